/**
 * The structured logger core code writes to. pino's Logger satisfies it; core never imports pino itself, so that
 * the logging library is the composition root's choice.
 */
export interface Logger {
  /** Debug detail, off in production. */
  debug(obj: object, msg?: string): void;
  debug(msg: string): void;
  /** Something happened that an operator may want to know. */
  info(obj: object, msg?: string): void;
  info(msg: string): void;
  /** Something went wrong and ward carried on. */
  warn(obj: object, msg?: string): void;
  warn(msg: string): void;
  /** Something went wrong that an operator must look at. */
  error(obj: object, msg?: string): void;
  error(msg: string): void;
  /** A logger whose every line carries `bindings`. */
  child(bindings: Record<string, unknown>): Logger;
}
