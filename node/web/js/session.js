// One verification session per page view: the trust root, the checkpoint (log signature,
// witness quorum, consistency with the remembered one), and a proof for every record a
// figure rests on. The verdict goes to <body data-verification> and the checks panel.
import * as V from "./verify/index.js";
import { getJson, getText } from "./api.js";

export const CHECKS = ["trust root", "log signature", "genesis", "witness quorum", "policy", "consistency", "inclusion", "figures"];

export class Session {
  constructor(trust, onChange) {
    this.trust = trust; // {vkey, genesis}
    this.onChange = onChange;
    this.checks = new Map(CHECKS.map((c) => [c, { status: "pending", detail: "" }]));
    this.proven = new Map(); // index -> Promise<{record, leafHash, bytes}>
    this.figures = 0;
    this.evidence = null;
    this.cp = null;
    this.genesis = null;
    this.policy = null;
    this.witnessSet = null; // {witnesses, quorum, since}: the set in force, proven
    this.cosigned = [];
    this.done = false; // the verdict stays "pending" until the page's checks have all run
    // `#/page?verify=off` (for measuring what verification costs): no proofs, no checks,
    // and a verdict of "off", never "ok".
    this.off = false;
  }

  set(check, status, detail, params = {}) {
    const cur = this.checks.get(check);
    if (cur.status === "fail") return; // a failure sticks
    this.checks.set(check, { status, detail, params });
    this.onChange?.(this);
  }

  fail(e) {
    // Anything that stops a check (a node error, a malformed answer) fails it: a page that
    // could not finish its checks is never "ok".
    const check = e instanceof V.VerifyError && this.checks.has(e.check) ? e.check : this.current();
    const detail = e instanceof V.VerifyError ? e.detail : `${e.message ?? e}`;
    this.checks.set(check, { status: "fail", detail });
    if (e.evidence) this.evidence = e.evidence;
    this.onChange?.(this);
  }

  /** The first check still pending (where an unexpected error is charged). */
  current() {
    for (const [name, c] of this.checks) if (c.status === "pending") return name;
    return "figures";
  }

  get verdict() {
    if (this.off) return this.done ? "off" : "pending";
    const all = [...this.checks.values()];
    if (all.some((c) => c.status === "fail")) return "failed";
    if (!this.done || all.some((c) => c.status === "pending")) return "pending";
    return "ok";
  }

  /** With verification off: only the (unchecked) checkpoint, for the pages' tree size. */
  async startUnverified() {
    this.off = true;
    this.cp = V.parseCheckpoint(V.parseNote(await getText("/log/checkpoint")).text);
    for (const name of CHECKS) this.checks.set(name, { status: "skip", detail: "verification_off" });
    return true;
  }

  /** Steps 1-6: trust root, checkpoint signature, genesis, witness quorum, policy, monitor. */
  async start() {
    try {
      // 1. the trust root the resident entered (log key and genesis hash)
      this.logKey = await V.parseVkey(this.trust.vkey);
      if (!/^[0-9a-f]{64}$/.test(this.trust.genesis)) throw new V.VerifyError("trust root", "the genesis hash must be 64 lowercase hex digits");
      this.set("trust root", "pass", "trust_root_ok", { name: this.logKey.name, hash: this.logKey.keyHash });
      // 2. C2SP signed-note: the newest checkpoint carries the log key's signature
      const note = await getText("/log/checkpoint");
      this.cp = await V.openCheckpoint(note, this.logKey);
      this.set("log signature", "pass", "log_signature_ok", { size: this.cp.size });
      // 3. genesis (record 0) is proven in that tree and is the one on the notice board
      const g = await this.prove(0);
      if (g.leafHash !== this.trust.genesis) throw new V.VerifyError("genesis", `record 0 has leaf hash ${g.leafHash}, the trust root says ${this.trust.genesis}`);
      const body = g.record.envelope.statement.body;
      if (g.record.envelope.statement.type !== "community.genesis" || body.log_vkey !== this.trust.vkey) {
        throw new V.VerifyError("genesis", "record 0 is not this log's genesis");
      }
      this.genesis = body;
      this.set("genesis", "pass", "genesis_ok");
      // 4. C2SP tlog-cosignature: the quorum of the witness set in force (genesis, or the
      // witnesses.set record the state API names, proven here) cosigned the checkpoint
      this.witnessSet = await this.currentWitnessSet(body);
      this.policy = await V.policyFromGenesis(this.witnessSet);
      const q = await V.verifyQuorum(this.cp, this.policy);
      this.cosigned = q.cosigned;
      this.set("witness quorum", "pass", "quorum_ok", { have: q.cosigned.length, need: q.needed });
      // 5. C2SP tlog-policy served by the node agrees with genesis
      await this.checkPolicy();
      // 6. RFC 9162 §2.1.4: consistency with the checkpoint this browser remembered
      const m = await V.monitor(this.trust.vkey, this.cp, getJson);
      const how = m.first ? "consistency_first" : m.from === m.size ? "consistency_same" : "consistency_ok";
      this.set("consistency", "pass", how, { from: m.from, size: m.size });
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /**
   * The witness set in force: the state API's `witnesses` ({witnesses, quorum, since}),
   * checked against the record it rests on. `since` 0 is genesis; otherwise record `since`
   * must be a signed witnesses.set with exactly these witnesses and quorum, proven in the
   * verified checkpoint. The node could still name an older set than the newest (proving
   * that no later witnesses.set exists would take every record since): its witnesses must
   * then have cosigned this checkpoint all the same.
   */
  async currentWitnessSet(genesis) {
    let cur;
    try {
      cur = (await getJson("/v1/community")).witnesses;
    } catch (e) {
      throw new V.VerifyError("witness quorum", `the node's /v1/community cannot be read (${e.detail ?? e.message})`);
    }
    const same = (a, b) => V.canonicalize(a) === V.canonicalize(b);
    if (!cur || !Number.isSafeInteger(cur.since) || cur.since < 0) throw new V.VerifyError("witness quorum", "the node names no current witness set");
    if (cur.since === 0) {
      if (!same(cur.witnesses, genesis.witnesses) || cur.quorum !== genesis.quorum) throw new V.VerifyError("witness quorum", "the node's current witness set is not genesis's, yet it names genesis as its record");
      return { witnesses: genesis.witnesses, quorum: genesis.quorum, since: 0 };
    }
    const rec = await this.prove(cur.since);
    const st = rec.record.envelope.statement;
    if (st.type !== "witnesses.set") throw new V.VerifyError("witness quorum", `record ${cur.since}, named as the current witness set, is a ${st.type}`);
    if (!(await V.envelopeSigned(rec.record.envelope))) throw new V.VerifyError("witness quorum", `a signature on the witnesses.set record ${cur.since} does not verify`);
    if (!same(st.body.witnesses, cur.witnesses) || st.body.quorum !== cur.quorum) throw new V.VerifyError("witness quorum", `the node's current witnesses are not those of the witnesses.set record ${cur.since}`);
    return { witnesses: st.body.witnesses, quorum: st.body.quorum, since: cur.since };
  }

  async checkPolicy() {
    let served;
    try {
      served = await V.parsePolicy(await getText("/v1/policy"));
    } catch (e) {
      throw new V.VerifyError("policy", `the node's /v1/policy cannot be read (${e.detail ?? e.message})`);
    }
    const logOk = served.logs.some((l) => l.key.vkey === this.trust.vkey);
    const keys = (p) => p.witnesses.map((w) => w.key.vkey).sort().join(" ");
    const sameWitnesses = keys(served) === keys(this.policy);
    const sameNeed = V.quorumNeeds(served) === V.quorumNeeds(this.policy);
    if (!logOk || !sameWitnesses || !sameNeed) throw new V.VerifyError("policy", "the node's /v1/policy differs from the witnesses and quorum in force");
    this.set("policy", "pass", "policy_ok");
  }

  /** Prove record `index` in the verified checkpoint (once per session). */
  prove(index) {
    if (!this.proven.has(index)) {
      const p = V.proveRecord(getJson, this.cp, index).then((r) => {
        this.set("inclusion", "pass", "inclusion_ok", { n: this.proven.size, size: this.cp.size });
        return r;
      });
      this.proven.set(index, p);
    }
    return this.proven.get(index);
  }

  /** The statement of proven record `index` (its exact bytes, parsed). */
  async statement(index) {
    return (await this.prove(index)).record.envelope.statement;
  }

  /** Record that a figure equals what its records say; VerifyError("figures") if not. */
  claim(ok, what) {
    if (!ok) throw new V.VerifyError("figures", what);
    this.figures += 1;
    this.set("figures", "pass", "figures_ok", { n: this.figures });
  }

  /** After a failed start: nothing more is checked. */
  abort() {
    this.done = true;
    for (const [name, c] of this.checks) if (c.status === "pending") this.checks.set(name, { status: "skip", detail: "skipped_after_failure" });
    this.onChange?.(this);
  }

  /** Run a page's checks; any failure is recorded; the verdict is final afterwards. */
  async finish(fn) {
    try {
      await fn();
      if (this.checks.get("inclusion").status === "pending") this.set("inclusion", "pass", "inclusion_ok", { n: this.proven.size, size: this.cp.size });
      if (this.checks.get("figures").status === "pending") this.set("figures", "pass", "figures_none");
    } catch (e) {
      this.fail(e);
    }
    this.done = true;
    for (const [name, c] of this.checks) if (c.status === "pending") this.checks.set(name, { status: "skip", detail: "skipped_after_failure" });
    this.onChange?.(this);
  }
}
