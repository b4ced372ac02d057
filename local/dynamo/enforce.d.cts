/** Types of enforce.cjs (see there). */
import type { Server } from 'node:http';
import type { PolicyTable } from '../iam/policy.cjs';

export declare function enforcePolicy(server: Server, table: PolicyTable): void;
