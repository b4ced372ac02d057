/**
 * Secrets Manager for the local stack, in process: the unchanged `@aws-sdk/client-secrets-manager` (and Powertools
 * Parameters on top of it) talks to it with `endpoint: 'http://127.0.0.1:PORT'`. It speaks the service's AWS JSON 1.1
 * protocol (POST /, `X-Amz-Target: secretsmanager.<Operation>`) for the one operation the functions use,
 * GetSecretValue, with the service's response and error shapes. Secrets are created in code (`putSecret`), not over
 * the wire. Signatures are not verified; the caller's access key id is read from the SigV4 `Authorization` header so
 * an `isAllowed` callback can refuse the request the way IAM would.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type IsAllowed = (accessKeyId: string, action: string, resourceArn: string) => boolean;

export interface SecretsManagerServerOptions {
  readonly region?: string;
  readonly accountId?: string;
  /** Whether the caller (by access key id) may perform `secretsmanager:<Operation>` on the secret. Default: all allowed. */
  readonly isAllowed?: IsAllowed;
}

interface StoredSecret {
  readonly arn: string;
  readonly name: string;
  versionId: string;
  secretString: string;
  /** Epoch seconds of the current version, as the service returns it (JSON 1.1 timestamps). */
  createdDate: number;
}

class ServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    /** AccessDeniedException carries `Message`; the service's own exceptions carry `message`. */
    readonly messageKey: 'message' | 'Message' = 'message',
  ) {
    super(message);
  }
}

const JSON_1_1 = 'application/x-amz-json-1.1';

export class SecretsManagerServer {
  private readonly region: string;
  private readonly accountId: string;
  private readonly isAllowed: IsAllowed;
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly requestCounts: Record<string, number> = {};
  private server?: Server;

  constructor(options: SecretsManagerServerOptions = {}) {
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.isAllowed = options.isAllowed ?? (() => true);
  }

  /** Creates the secret, or puts a new current version of it. Returns its ARN (with the service's random suffix). */
  putSecret(name: string, secretString: string): string {
    const existing = this.secrets.get(name);
    const secret: StoredSecret = existing ?? { arn: `${this.arnPrefix(name)}-${suffix()}`, name, versionId: '', secretString: '', createdDate: 0 };
    Object.assign(secret, { versionId: randomUUID(), secretString, createdDate: Date.now() / 1000 });
    this.secrets.set(name, secret);
    return secret.arn;
  }

  deleteSecret(name: string): void {
    this.secrets.delete(name);
  }

  /** Requests received per operation (target), since start or the last reset — whether they succeeded or not. */
  counts(): Readonly<Record<string, number>> {
    return { ...this.requestCounts };
  }

  resetCounts(): void {
    for (const key of Object.keys(this.requestCounts)) delete this.requestCounts[key];
  }

  /** Listens on 127.0.0.1 (port 0: a free one); returns the endpoint for the SDK client. */
  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- protocol ---------------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith('secretsmanager.') ? target.slice('secretsmanager.'.length) : '';
    const counted = operation || target || '(none)';
    this.requestCounts[counted] = (this.requestCounts[counted] ?? 0) + 1;
    try {
      if (req.method !== 'POST' || operation !== 'GetSecretValue') {
        throw new ServiceError('UnknownOperationException', `Operation '${target}' is not supported by this local Secrets Manager`);
      }
      const accessKeyId = /Credential=([^/,\s]+)\//.exec(String(req.headers.authorization ?? ''))?.[1];
      if (!accessKeyId) throw new ServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token');
      let body: { SecretId?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof body;
      } catch {
        throw new ServiceError('SerializationException', 'Start of structure or map found where not expected.');
      }
      send(res, 200, this.getSecretValue(accessKeyId, body.SecretId));
    } catch (err) {
      const e = err instanceof ServiceError ? err : new ServiceError('InternalServiceError', (err as Error).message);
      send(res, e.type === 'InternalServiceError' ? 500 : 400, { __type: e.type, [e.messageKey]: e.message });
    }
  }

  private getSecretValue(accessKeyId: string, secretId: unknown): object {
    if (typeof secretId !== 'string' || secretId.length === 0) {
      throw new ServiceError('ValidationException', "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null");
    }
    const secret = this.find(secretId);
    // As on AWS, permission is evaluated first: a caller without it cannot learn whether the secret exists.
    const resource = secret?.arn ?? (secretId.startsWith('arn:') ? secretId : this.arnPrefix(secretId));
    const action = 'secretsmanager:GetSecretValue';
    if (!this.isAllowed(accessKeyId, action, resource)) {
      throw new ServiceError(
        'AccessDeniedException',
        `User: ${accessKeyId} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`,
        'Message',
      );
    }
    if (!secret) throw new ServiceError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return {
      ARN: secret.arn,
      Name: secret.name,
      SecretString: secret.secretString,
      VersionId: secret.versionId,
      VersionStages: ['AWSCURRENT'],
      CreatedDate: secret.createdDate,
    };
  }

  /** By name, full ARN, or partial ARN (without the random suffix), as the service resolves SecretId. */
  private find(secretId: string): StoredSecret | undefined {
    const byName = this.secrets.get(secretId);
    if (byName) return byName;
    for (const secret of this.secrets.values()) {
      if (secret.arn === secretId || this.arnPrefix(secret.name) === secretId) return secret;
    }
    return undefined;
  }

  private arnPrefix(name: string): string {
    return `arn:aws:secretsmanager:${this.region}:${this.accountId}:secret:${name}`;
  }
}

/** The six random characters Secrets Manager appends to a secret's name in its ARN. */
function suffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('');
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': JSON_1_1, 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID() });
  res.end(text);
}
