import { ConfigError } from '../errors.js';
import type { AuditLog } from '../ports/audit.js';
import type { Logger } from '../ports/logger.js';
import type { Config } from './env.js';
import { fileSha256 } from './file-sha256.js';
import { EMPTY_INVENTORY, type Inventory, inventorySchema, toInventory } from './inventory.js';
import { loadYamlFile } from './yaml-file.js';

function loadInventory(config: Config): Inventory {
  if (!config.WARD_INVENTORY) return EMPTY_INVENTORY;
  return toInventory(
    loadYamlFile(config.WARD_INVENTORY, inventorySchema, 'inventory file', 'WARD_INVENTORY'),
  );
}

/** The inventory in use: read at start, reread on SIGHUP; an invalid file never replaces a valid one. */
export class InventoryHolder {
  private inventory: Inventory;

  constructor(private readonly config: Config) {
    this.inventory = loadInventory(config);
  }

  current(): Inventory {
    return this.inventory;
  }

  /**
   * Reads WARD_INVENTORY again. An invalid file throws a ConfigError and the inventory in use stays as it was; both
   * outcomes are audited as `config.reload`.
   */
  reload(audit: AuditLog, log: Logger): Inventory {
    const record = (outcome: string, details: Record<string, unknown>) =>
      audit
        .record({
          type: 'config.reload',
          outcome,
          details: { what: 'inventory', path: this.config.WARD_INVENTORY ?? null, ...details },
        })
        .catch((err) => log.error({ err }, 'could not audit an inventory reload'));
    try {
      this.inventory = loadInventory(this.config);
    } catch (err) {
      void record('kept_previous', {
        problems: err instanceof ConfigError ? err.problems : ['the file could not be read'],
      });
      throw err;
    }
    log.info({ hosts: this.inventory.hosts.size }, 'inventory reloaded');
    void record('reloaded', {
      sha256: fileSha256(this.config.WARD_INVENTORY),
      hosts: this.inventory.hosts.size,
    });
    return this.inventory;
  }
}
