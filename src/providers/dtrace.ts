// The dtrace provider: BEGIN, END and ERROR. The session fires them itself. [dt_prov_dtrace.c]

import type { FiringEnv, ProbeDef, Provider } from './provider.js';

export class DtraceProvider implements Provider {
  readonly name = 'dtrace';
  readonly local = true;
  begin!: ProbeDef;
  end!: ProbeDef;
  error!: ProbeDef;

  populate(newProbe: (module: string, func: string, name: string, argTypes: []) => ProbeDef): void {
    this.begin = newProbe('', '', 'BEGIN', []);
    this.end = newProbe('', '', 'END', []);
    this.error = newProbe('', '', 'ERROR', []);
  }

  enable(_probes: ProbeDef[], _env: FiringEnv): void {
  }

  disable(): void {}
}
