/** ConnectionSender on the API Gateway Management API (@connections). One client per endpoint per warm environment. */
import { ApiGatewayManagementApiClient, DeleteConnectionCommand, GoneException, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { ConnectionSender } from '../domain/call/model';

const clients = new Map<string, ApiGatewayManagementApiClient>();

/** `https://{domainName}/{stage}` on AWS; CONNECTIONS_ENDPOINT overrides it (the local gateway speaks plain HTTP). */
export function connectionsEndpoint(domainName: string, stage: string): string {
  return process.env.CONNECTIONS_ENDPOINT ?? `https://${domainName}/${stage}`;
}

export class ApiGatewaySender implements ConnectionSender {
  private readonly client: ApiGatewayManagementApiClient;

  constructor(endpoint: string) {
    let client = clients.get(endpoint);
    if (!client) {
      client = new ApiGatewayManagementApiClient({ endpoint, maxAttempts: 2 });
      clients.set(endpoint, client);
    }
    this.client = client;
  }

  async send(connectionId: string, data: string): Promise<'ok' | 'gone'> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(data) }));
      return 'ok';
    } catch (err) {
      if (isGone(err)) return 'gone';
      throw err;
    }
  }

  async close(connectionId: string): Promise<void> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
}

function isGone(err: unknown): boolean {
  return err instanceof GoneException || (err as Error)?.name === 'GoneException';
}
