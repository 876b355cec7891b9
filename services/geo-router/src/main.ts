import { runService } from '@strata/service';
import { geoRouterService } from './service.js';

await runService(geoRouterService);
