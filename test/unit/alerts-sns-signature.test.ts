import { execFileSync } from 'node:child_process';
import { createSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CertFetcher,
  parseSnsEnvelope,
  type SnsMessage,
  SnsVerificationError,
  snsStringToSign,
  verifySnsSignature,
} from '../../src/alerts/sources/sns.js';

const certUrl =
  'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem';

interface KeyPair {
  key: string;
  cert: string;
}

let dir: string;
let signer: KeyPair;
let stranger: KeyPair;

/** A fresh RSA key and self-signed certificate, made by the openssl CLI (node:crypto cannot issue certificates). */
function makeKeyPair(name: string): KeyPair {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ward-sns-'));
  signer = makeKeyPair('sns-signer');
  stranger = makeKeyPair('stranger');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fixtureBody(): Record<string, unknown> {
  return JSON.parse(
    readFileSync(new URL('../fixtures/aws_sns_http_notification_body.json', import.meta.url), 'utf8'),
  );
}

/** The CloudWatch alarm text of the Lambda fixture, in the HTTP-endpoint envelope (see test/fixtures/SOURCE.txt). */
function cloudWatchMessage(): string {
  const lambda = JSON.parse(
    readFileSync(
      new URL('../fixtures/aws_sns_lambda_event_cloudwatch_alarm_single_metric.json', import.meta.url),
      'utf8',
    ),
  ) as { Records: { Sns: { Message: string } }[] };
  return lambda.Records[0]!.Sns.Message;
}

/** Signs a message as SNS does, with `keyPem`, and returns it as the parsed envelope. */
function sign(fields: Record<string, unknown>, version: '1' | '2', keyPem: string): SnsMessage {
  const unsigned = parseSnsEnvelope({ ...fields, SignatureVersion: version, Signature: 'unsigned' });
  const signature = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    .update(snsStringToSign(unsigned))
    .sign(keyPem, 'base64');
  return { ...unsigned, Signature: signature };
}

function fetcherServing(pem: string) {
  return vi.fn<CertFetcher>(async () => pem);
}

async function refusal(promise: Promise<void>): Promise<SnsVerificationError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(SnsVerificationError);
    return err as SnsVerificationError;
  }
  throw new Error('expected the message to be refused');
}

describe('SNS string to sign', () => {
  it('follows the documented field order, leaving out an absent Subject', () => {
    const body = fixtureBody();
    const msg = parseSnsEnvelope(body);
    expect(snsStringToSign(msg)).toBe(
      'Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\n' +
        'Timestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-east-1:123456789012:MyTopic\nType\nNotification\n',
    );
    const { Subject: _s, ...noSubject } = body;
    expect(snsStringToSign(parseSnsEnvelope(noSubject))).not.toContain('Subject');
  });

  it('signs SubscribeURL and Token for the subscription handshake', () => {
    const msg = parseSnsEnvelope({
      Type: 'SubscriptionConfirmation',
      MessageId: 'm1',
      Token: 't0k',
      TopicArn: 'arn:aws:sns:us-east-1:123456789012:MyTopic',
      Message: 'confirm',
      SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription',
      Timestamp: '2012-04-26T20:45:04.751Z',
      SignatureVersion: '1',
      Signature: 'x',
      SigningCertURL: certUrl,
    });
    expect(snsStringToSign(msg)).toBe(
      'Message\nconfirm\nMessageId\nm1\nSubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\n' +
        'Timestamp\n2012-04-26T20:45:04.751Z\nToken\nt0k\nTopicArn\narn:aws:sns:us-east-1:123456789012:MyTopic\n' +
        'Type\nSubscriptionConfirmation\n',
    );
  });
});

describe('verifySnsSignature', () => {
  for (const version of ['1', '2'] as const) {
    it(`accepts a CloudWatch alarm notification signed with SignatureVersion ${version}`, async () => {
      const fetchCert = fetcherServing(signer.cert);
      const msg = sign({ ...fixtureBody(), Message: cloudWatchMessage() }, version, signer.key);
      await expect(verifySnsSignature(msg, fetchCert)).resolves.toBeUndefined();
      expect(fetchCert).toHaveBeenCalledWith(certUrl);
    });

    it(`refuses a tampered Message (SignatureVersion ${version})`, async () => {
      const msg = sign({ ...fixtureBody(), Message: cloudWatchMessage() }, version, signer.key);
      const tampered = { ...msg, Message: msg.Message.replace('"ALARM"', '"OK"') };
      expect((await refusal(verifySnsSignature(tampered, fetcherServing(signer.cert)))).reason).toBe(
        'signature_mismatch',
      );
    });
  }

  it('accepts a signed subscription confirmation', async () => {
    const msg = sign(
      {
        Type: 'SubscriptionConfirmation',
        MessageId: '165545c9-2a5c-472c-8df2-7ff2be2b3b1b',
        Token: '2336412f37f',
        TopicArn: 'arn:aws:sns:us-east-1:123456789012:MyTopic',
        Message: 'You have chosen to subscribe to the topic arn:aws:sns:us-east-1:123456789012:MyTopic.',
        SubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37f',
        Timestamp: '2012-04-26T20:45:04.751Z',
        SigningCertURL: certUrl,
      },
      '2',
      signer.key,
    );
    await expect(verifySnsSignature(msg, fetcherServing(signer.cert))).resolves.toBeUndefined();
    const swappedToken = { ...msg, Token: 'attacker' } as SnsMessage;
    expect((await refusal(verifySnsSignature(swappedToken, fetcherServing(signer.cert)))).reason).toBe(
      'signature_mismatch',
    );
  });

  it('refuses a message signed by another key than the certificate at SigningCertURL', async () => {
    const msg = sign(fixtureBody(), '2', stranger.key);
    expect((await refusal(verifySnsSignature(msg, fetcherServing(signer.cert)))).reason).toBe(
      'signature_mismatch',
    );
  });

  it('refuses a version 1 signature presented as version 2', async () => {
    const msg = sign(fixtureBody(), '1', signer.key);
    const relabelled = { ...msg, SignatureVersion: '2' } as SnsMessage;
    expect((await refusal(verifySnsSignature(relabelled, fetcherServing(signer.cert)))).reason).toBe(
      'signature_mismatch',
    );
  });

  const badUrls = [
    'https://evil.example.com/x.pem',
    'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem',
    'https://sns.us-east-1.amazonaws.com.evil.example.com/x.pem',
    'https://sns.us-east-1.amazonaws.com@evil.example.com/x.pem',
    'https://sns.us-east-1.amazonaws.com:8443/x.pem',
    'not a url',
  ];
  for (const url of badUrls) {
    it(`refuses SigningCertURL ${url} without fetching it`, async () => {
      // Signed by the stranger, whose certificate the fetcher would happily serve: only the URL check stops it.
      const msg = sign({ ...fixtureBody(), SigningCertURL: url }, '2', stranger.key);
      const fetchCert = fetcherServing(stranger.cert);
      const err = await refusal(verifySnsSignature(msg, fetchCert));
      expect(err.reason).toBe('cert_url');
      expect(err.code).toBe('ward_sns_cert_url');
      expect(fetchCert).not.toHaveBeenCalled();
    });
  }

  it('accepts the China partition host', async () => {
    const url = 'https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem';
    const msg = sign({ ...fixtureBody(), SigningCertURL: url }, '2', signer.key);
    await expect(verifySnsSignature(msg, fetcherServing(signer.cert))).resolves.toBeUndefined();
  });

  it('fetches each certificate once per fetcher, and retries after a failed fetch', async () => {
    const fetchCert = fetcherServing(signer.cert);
    const msg = sign(fixtureBody(), '2', signer.key);
    await verifySnsSignature(msg, fetchCert);
    await verifySnsSignature(msg, fetchCert);
    expect(fetchCert).toHaveBeenCalledTimes(1);

    const flaky = vi
      .fn<CertFetcher>()
      .mockRejectedValueOnce(new Error('ECONNRESET'))
      .mockResolvedValue(signer.cert);
    expect((await refusal(verifySnsSignature(msg, flaky))).reason).toBe('cert_fetch');
    await expect(verifySnsSignature(msg, flaky)).resolves.toBeUndefined();
    expect(flaky).toHaveBeenCalledTimes(2);
  });

  it('refuses when the certificate URL serves something that is not a certificate', async () => {
    const msg = sign(fixtureBody(), '2', signer.key);
    expect((await refusal(verifySnsSignature(msg, fetcherServing('<html>hi</html>')))).reason).toBe(
      'cert_invalid',
    );
  });

  it('refuses the docs example as is: its Signature is a placeholder', async () => {
    const msg = parseSnsEnvelope(fixtureBody());
    expect((await refusal(verifySnsSignature(msg, fetcherServing(signer.cert)))).reason).toBe(
      'signature_mismatch',
    );
  });
});
