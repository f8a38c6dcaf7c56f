/**
 * The rollout scenario (3 waves, faults, restart mid-campaign) with the engine on PostgreSQL:
 * the restart opens a new pool on the same database. SKIPPED without PostgreSQL (a failure under CI).
 */
import { after, before } from 'node:test';
import { openPostgresStore } from '../../../src/store/postgres/store.js';
import { postgresSkip, startPostgres, type PostgresServer } from '../../helpers/postgres.js';
import { registerRolloutScenario } from './rollout-scenario.js';

const skip = postgresSkip();
let server: PostgresServer | undefined;

before(async () => {
  if (skip === false) server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

registerRolloutScenario('PostgreSQL', skip, async () => {
  if (server === undefined) throw new Error('PostgreSQL server not started');
  const connectionString = await server.createDatabase();
  return () => openPostgresStore({ connectionString });
});
