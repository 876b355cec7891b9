import { runService } from '@strata/service';
import { mediaService } from './service.js';

await runService(mediaService);
