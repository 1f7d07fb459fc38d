// What a provider is: a source of probes. It announces probes (provider:module:function:name
// with argument types), creates probes on demand for names it understands, and fires them.
// The language and runtime never care where a firing came from.            [dt_provimpl_t]

import type { DType } from '../lang/types.js';
import type { Probe } from '../runtime/context.js';

/** A probe description's four fields, as written (globs allowed). */
export interface ProbeDesc {
  provider: string;
  module: string;
  func: string;
  name: string;
}

export interface ProbeDef {
  probe: Probe;
  /** types of args[0..] (the translated argument types for providers that have them) */
  argTypes: DType[];
  /** the native (untranslated) argument types shown by -lv; defaults to argTypes */
  nativeTypes?: DType[];
  /** argument names, where the provider knows them */
  argNames?: string[];
}

/** Fires a probe: the session supplies this to providers when tracing starts. */
export type FireFn = (def: ProbeDef, arg0?: bigint) => void;

export interface Provider {
  readonly name: string;
  /** every probe that exists without being asked for (dtrace -l lists these) */
  populate(newProbe: (module: string, func: string, name: string, argTypes: DType[]) => ProbeDef): void;
  /**
   * A probe for a description that names one precisely but that does not exist yet
   * (profile-1234, tick-5s); null if the provider cannot make it.
   */
  provide?(desc: ProbeDesc, newProbe: (module: string, func: string, name: string, argTypes: DType[]) => ProbeDef): ProbeDef | null;
  /** starts firing the enabled probes among this provider's */
  enable(probes: ProbeDef[], fire: FireFn): void;
  /** stops firing (idempotent; called on every exit path) */
  disable(): void;
}
