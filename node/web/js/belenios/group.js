// The BELENIOS-2048 group (Belenios spec 2.0 §5.1) in plain BigInt arithmetic, as
// voting/secret/group.py computes it: elements and exponents are BigInt, exponents are
// reduced modulo q, and the Fiat–Shamir hash is SHA256(prefix ‖ e1,e2,…) mod q (§4.5).
// No DOM access: SHA-256 from WebCrypto, randomness from crypto.getRandomValues.

const P = 20694785691422546401013643657505008064922989295751104097100884787057374219242717401922237254497684338129066633138078958404960054389636289796393038773905722803605973749427671376777618898589872735865049081167099310535867780980030790491654063777173764198678527273474476341835600035698305193144284561701911000786737307333564123971732897913240474578834468260652327974647951137672658693582180046317922073668860052627186363386088796882120769432366149491002923444346373222145884100586421050242120365433561201320481118852408731077014151666200162313177169372189248078507711827842317498073276598828825169183103125680162072880719n;
const Q = 78571733251071885079927659812671450121821421258408794611510081919805623223441n;
const G = 2402352677501852209227687703532399932712287657378364916510075318787663274146353219320285676155269678799694668298749389095083896573425601900601068477164491735474137283104610458681314511781646755400527402889846139864532661215055797097162016168270312886432456663834863635782106154918419982534315189740658186868651151358576410138882215396016043228843603930989333662772848406593138406010231675095763777982665103606822406635076697764025346253773085133173495194248967754052573659049492477631475991575198775177711481490920456600205478127054728238140972518639858334115700568353695553423781475582491896050296680037745308460627n;

// Sliding-window exponentiation: 2^(W-1) odd powers precomputed, then about
// bits + bits/(W+1) multiplications instead of bits + bits/2 for square-and-multiply.
const W = 5;

function modpow(base, e, p) {
  if (e === 0n) return 1n;
  const b = base % p;
  const b2 = (b * b) % p;
  const odd = [b];
  for (let i = 1; i < 1 << (W - 1); i++) odd.push((odd[i - 1] * b2) % p);
  const bits = e.toString(2);
  let acc = 1n;
  let i = 0;
  while (i < bits.length) {
    if (bits[i] === "0") {
      acc = (acc * acc) % p;
      i += 1;
      continue;
    }
    // The longest window of at most W bits starting here that ends in a 1.
    let j = Math.min(i + W, bits.length);
    while (bits[j - 1] === "0") j -= 1;
    const win = parseInt(bits.slice(i, j), 2);
    for (let k = i; k < j; k++) acc = (acc * acc) % p;
    acc = (acc * odd[(win - 1) >> 1]) % p;
    i = j;
  }
  return acc;
}

function modinv(a, p) {
  // Extended Euclid; `a` is a group element, hence invertible modulo the prime p.
  let [r0, r1] = [((a % p) + p) % p, p];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const qt = r0 / r1;
    [r0, r1] = [r1, r0 - qt * r1];
    [s0, s1] = [s1, s0 - qt * s1];
  }
  if (r0 !== 1n) throw new Error("not invertible");
  return ((s0 % p) + p) % p;
}

export const BELENIOS_2048 = Object.freeze({
  name: "BELENIOS-2048",
  p: P,
  q: Q,
  g: G,
  /** base ** exponent mod p, the exponent reduced modulo q first (as group.py's pow). */
  pow: (base, exponent) => modpow(base, ((exponent % Q) + Q) % Q, P),
  gPow: (exponent) => modpow(G, ((exponent % Q) + Q) % Q, P),
  mul: (a, b) => (a * b) % P,
  div: (a, b) => (a * modinv(b, P)) % P,
  prod: (xs) => xs.reduce((acc, x) => (acc * x) % P, 1n),
  /** Membership as Belenios checks it: 0 < x < p and x ** q = 1 (mod p). */
  isElement: (x) => typeof x === "bigint" && x > 0n && x < P && modpow(x, Q, P) === 1n,
});

const GROUPS = { [BELENIOS_2048.name]: BELENIOS_2048 };

/** The group an election names; Error if this page does not implement it. */
export function groupByName(name) {
  const g = GROUPS[name];
  if (!g) throw new Error(`unknown Belenios group ${JSON.stringify(name)} (supported: ${Object.keys(GROUPS).join(", ")})`);
  return g;
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function bytesToBig(bytes) {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** SHA256(prefix ‖ e1,e2,…) read big-endian, modulo q (numbers in base 10, spec §4.5). */
export async function hashToZq(group, prefix, elements) {
  const text = prefix + elements.map((e) => e.toString(10)).join(",");
  return bytesToBig(await sha256(new TextEncoder().encode(text))) % group.q;
}

/**
 * A uniform exponent in [0, q): 32 random bytes, rejected and redrawn when ≥ q (q is a
 * 256-bit prime, so about two draws in three are kept). Rejection, not a reduction
 * modulo q, so no value is more likely than another.
 */
export function randomZq(group, random = (n) => crypto.getRandomValues(new Uint8Array(n))) {
  const bits = group.q.toString(2).length;
  const bytes = Math.ceil(bits / 8);
  const mask = (1n << BigInt(bits)) - 1n;
  for (;;) {
    const x = bytesToBig(random(bytes)) & mask;
    if (x < group.q) return x;
  }
}
