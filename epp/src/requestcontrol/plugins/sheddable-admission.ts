// sheddable-admission (built in, always on): GIE's admission rule without flow control — a
// sheddable request (InferenceObjective priority < 0) is rejected with 429 while the pool is
// saturated, as the saturation detector of the config judges it (`pkg/epp/requestcontrol/
// admission.go`, v1.5.0, LegacyAdmissionController). Other requests are always admitted.
import { ERRORS } from '../../framework/error-catalogue.js';
import type { Candidate } from '../../framework/endpoint.js';
import type { SaturationDetector } from '../../framework/plugins.js';
import type { InferenceRequest } from '../../framework/request.js';
import type { AdmissionPlugin } from '../../framework/request-lifecycle.js';

export const SHEDDABLE_ADMISSION_TYPE = 'sheddable-admission';

export class SheddableAdmission implements AdmissionPlugin {
  readonly type = SHEDDABLE_ADMISSION_TYPE;
  readonly name = SHEDDABLE_ADMISSION_TYPE;

  constructor(private readonly detector: SaturationDetector) {}

  admit(req: InferenceRequest, candidates: readonly Candidate[], now: number) {
    if (req.priority >= 0 || this.detector.saturation(candidates, now) < 1) return undefined;
    return { error: ERRORS.REQUEST_SHED, message: 'request dropped: pool is saturated and the request is sheddable' };
  }
}
