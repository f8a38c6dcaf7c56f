import { registerRolloutScenario } from './rollout-scenario.js';

registerRolloutScenario('SQLite', false);
