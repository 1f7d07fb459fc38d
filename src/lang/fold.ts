// Constant folding of integer operators, shared by the parser (array sizes, bit-field widths,
// enumerator values) and the checker (constant arguments such as lquantize's).

/** A unary operator on a constant, or null if the operator does not fold. */
export function foldUnary(op: string, v: bigint): bigint | null {
  switch (op) {
    case '-': return -v;
    case '+': return v;
    case '~': return ~v;
    case '!': return v === 0n ? 1n : 0n;
    default: return null;
  }
}

/** A binary operator on constants, or null if it does not fold (or divides by zero). */
export function foldBinary(op: string, l: bigint, r: bigint): bigint | null {
  switch (op) {
    case '+': return wrap64(l + r);
    case '-': return wrap64(l - r);
    case '*': return wrap64(l * r);
    case '/': return r === 0n ? null : l / r;
    case '%': return r === 0n ? null : l % r;
    // the count is taken modulo 64, as the generated code and the CPU's shift take it
    case '<<': return wrap64(l << (r & 63n));
    case '>>': return l >> (r & 63n);
    case '&': return l & r;
    case '|': return l | r;
    case '^': return l ^ r;
    case '<': return l < r ? 1n : 0n;
    case '>': return l > r ? 1n : 0n;
    case '<=': return l <= r ? 1n : 0n;
    case '>=': return l >= r ? 1n : 0n;
    case '==': return l === r ? 1n : 0n;
    case '!=': return l !== r ? 1n : 0n;
    default: return null;
  }
}

/**
 * A folded value past 64 bits wraps as DTrace's 64-bit folding does; values that fit signed or
 * unsigned stay as they are. This also keeps long constant chains from growing huge BigInts.
 */
function wrap64(v: bigint): bigint {
  return v >= -(1n << 63n) && v < 1n << 64n ? v : BigInt.asUintN(64, v);
}
