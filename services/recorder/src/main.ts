import { runService } from '@strata/service';
import { recorderService } from './service.js';

await runService(recorderService);
