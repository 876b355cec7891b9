import { runService } from '@strata/service';
import { turnService } from './service.js';

await runService(turnService);
