// The fbt provider (function boundary tracing) needs kprobe events, which some kernels are
// built without (CONFIG_KPROBE_EVENTS off, as on this project's Firecracker guests). Where
// they are missing, a description naming fbt gets a plain account of why, and of the probe
// that traces the same thing from a tracepoint.                              [dt_prov_fbt.c]

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { kernelSymbols } from '../kernel/ksyms.js';
import { availableEvents, tracefsRoot } from '../kernel/tracefs.js';
import { isGlob } from './registry.js';
import type { FiringEnv, NewProbe, ProbeDef, ProbeDesc, Provider } from './provider.js';
import { ProviderUnavailable } from './provider.js';

/** Prefixes of a system call's kernel functions: __x64_sys_chdir, __do_sys_chdir, ksys_read ... */
const SYSCALL_FUNCTION = /^(?:__(?:x64|ia32|arm64|riscv|s390x?)_sys_|__se_sys_|__do_sys_|do_sys_|ksys_|sys_)(\w+)$/;

export class FbtProvider implements Provider {
  readonly name = 'fbt';
  private why: string | null = null;

  populate(newProbe: NewProbe): void {
    void newProbe;
    const root = tracefsRoot();
    if (!existsSync(join(root, 'kprobe_events'))) {
      this.why = `the kernel has no kprobe events (${join(root, 'kprobe_events')} is missing: it was built without CONFIG_KPROBE_EVENTS)`;
    } else {
      this.why = 'dtrace-ts does not implement fbt probes yet';
    }
  }

  /** No fbt probes exist: say why, with the probe to use instead. */
  provide(desc: ProbeDesc): ProbeDef | null {
    if (desc.provider !== this.name) return null;
    // a function the kernel does not have matches nothing, kprobes or not
    if (desc.func !== '' && !isGlob(desc.func) && !SYSCALL_FUNCTION.test(desc.func) && !kernelSymbols.hasFunction(desc.func)) return null;
    throw new ProviderUnavailable(`fbt probes are not available: ${this.why}; ${insteadOf(desc)}`);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    void probes;
    void env;
  }

  disable(): void {}
}

function insteadOf(desc: ProbeDesc): string {
  const m = SYSCALL_FUNCTION.exec(desc.func);
  if (m) {
    const events = availableEvents(tracefsRoot());
    const name = m[1];
    if (events.some(([sys, ev]) => sys === 'syscalls' && ev === `sys_enter_${name}`)) {
      const probe = desc.name === 'return' ? 'return' : 'entry';
      return `syscall::${name}:${probe} traces the same system call`;
    }
  }
  return 'the syscall, proc, sched and sdt providers (kernel tracepoints: dtrace -l -P sdt) trace without kprobes';
}
