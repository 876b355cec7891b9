import { runService } from '@strata/service';
import { signalingService } from './service.js';

await runService(signalingService);
