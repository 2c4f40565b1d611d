/**
 * The randomized consistency checker, with writers that do not trust what they hold: instances
 * loaded seconds earlier (load-modify-save), a field set twice before save(), an application hook
 * that normalises the field, bulk updates, transactions. Readers cache, through getOrSet, the rows
 * of one status (`matching()`: a dependency on the field's old and new values, not on the primary
 * key). A read is stale when it misses a commit that returned before the read began: a row listed
 * with an older version, or a row left out although it held that status since such a commit with
 * no write to it in flight during the read.
 */
import { expect } from 'chai';
import Keyv from 'keyv';
import { DataTypes, type Model, type ModelStatic } from 'sequelize';
import { getOrSet, matching } from '../lib/index.js';
import { registerSequelizeHooks } from '../lib/sequelize/index.js';
import { backends, sleep, uniqueNamespace } from './support/backends.js';
import { closeSequelize, openSequelize, type Dialect } from './support/sequelize.js';

type Row = Model & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const STATUSES = ['open', 'held', 'closed'];
/** What writers send: the application's hook trims and lower-cases it. */
const VARIANTS = ['open', ' Open', 'OPEN ', 'held', ' HELD', 'closed', 'Closed ', ' closed'];
const normalise = (s: string) => s.trim().toLowerCase();

/** A write to one row: when it began, when its commit returned, and the state it left. */
interface Write { began: number; returned: number; version: number; status: string }

for (const dialect of ['postgres', 'mariadb'] as Dialect[]) {
  describe(`randomized checker, writers with stale instances and normalising hooks (${dialect} + redis): no stale read through getOrSet`, function () {
    this.timeout(120_000);

    it('counts stale reads of status lists: 0 through getOrSet', async () => {
      const sequelize = await openSequelize(dialect, { pool: { max: 12 } });
      const Ticket = sequelize.define('Ticket', {
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        status: { type: DataTypes.STRING, allowNull: false },
        version: { type: DataTypes.INTEGER, allowNull: false },
      }, {
        tableName: 'tickets',
        timestamps: false,
        hooks: { beforeSave: (t: Model) => { t.set('status', normalise(String(t.get('status')))); } },
      }) as ModelStatic<Row>;
      await Ticket.sync();
      const store = backends.find((b) => b.name === 'redis')!.store();
      const keyv = new Keyv({ store, namespace: uniqueNamespace('consistency-old-values') });
      const hooks = registerSequelizeHooks(sequelize, keyv);
      const errors: Error[] = [];
      store.on('error', (error: Error) => errors.push(error));
      try {
        const ROWS = 6;
        const rows = await Ticket.bulkCreate(Array.from({ length: ROWS }, (_, i) => ({ status: STATUSES[i % 3]!, version: 0 })));
        const ids = rows.map((r) => r.id as number);
        const history = new Map<number, Write[]>(ids.map((id, i) => [id, [{ began: 0, returned: 0, version: 0, status: STATUSES[i % 3]! }]]));
        // Writes to one row go one at a time (each knows the version it writes); rows race freely.
        const busy = new Map<number, Promise<void>>();
        // Instances loaded earlier and kept: stale by the time they are saved.
        let pool: Row[] = await Ticket.findAll();
        const counts = { writes: 0, reads: 0, stale: 0, refused: 0, kinds: {} as Record<string, number> };
        const deadline = Date.now() + 6_000;
        const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;

        const write = async (id: number) => {
          const writes = history.get(id)!;
          const version = writes[writes.length - 1]!.version + 1;
          const variant = pick(VARIANTS);
          const kind = pick(['stale save', 'set twice', 'bulk update', 'stale save in a transaction', 'stale update()']);
          const began = performance.now();
          const stale = pool.find((t) => t.id === id) ?? Ticket.build({ id, status: 'open', version: 0 }, { isNewRecord: false });
          if (kind === 'stale save') {
            stale.set('status', variant);
            stale.set('version', version);
            await stale.save();
          } else if (kind === 'set twice') {
            stale.set('status', pick(VARIANTS));
            stale.set('status', variant);
            stale.set('version', version);
            await stale.save();
          } else if (kind === 'bulk update') {
            await Ticket.update({ status: normalise(variant), version }, { where: { id } });
          } else if (kind === 'stale save in a transaction') {
            await sequelize.transaction(async (transaction) => {
              stale.set('status', variant);
              stale.set('version', version);
              await stale.save({ transaction });
            });
          } else {
            await stale.update({ status: variant, version });
          }
          const returned = performance.now();
          // What the row holds now (writes to it go one at a time): a stale instance whose
          // in-memory status already equals the normalised value does not write the status.
          const stored = (await Ticket.findByPk(id, { raw: true }))!;
          expect(stored.version).to.equal(version);
          writes.push({ began, returned, version, status: stored.status as string });
          counts.writes++;
          counts.kinds[kind] = (counts.kinds[kind] ?? 0) + 1;
        };
        const refresher = async () => {
          while (Date.now() < deadline) {
            await sleep(1_500);
            pool = await Ticket.findAll();
          }
        };

        const load = async (status: string) => {
          const found = await Ticket.findAll({ where: { status }, order: [['id', 'ASC']], raw: true });
          await sleep(Math.random() * 6); // widen the window between the read and the cache write
          return found.map((t) => [t.id as number, t.version as number] as [number, number]);
        };
        /** Does `listed` miss a commit that returned before `started`? */
        const isStale = (status: string, listed: Array<[number, number]>, started: number, ended: number) => {
          const seen = new Map(listed);
          for (const id of ids) {
            const writes = history.get(id)!;
            const before = writes.filter((w) => w.returned <= started);
            const known = before[before.length - 1]!;
            const version = seen.get(id);
            if (version !== undefined && version < known.version) return true;
            const inFlight = writes.some((w) => w.returned > started && w.began < ended);
            // A write may have begun before `ended` and not returned yet: busy rows are in flight too.
            if (version === undefined && known.status === status && !inFlight && writes[writes.length - 1] === known && !rowBusy(id, ended)) return true;
          }
          return false;
        };
        const begun = new Map<number, number>();
        const rowBusy = (id: number, ended: number) => (begun.get(id) ?? Infinity) < ended;
        const reader = async () => {
          while (Date.now() < deadline) {
            const status = pick(STATUSES);
            const started = performance.now();
            const listed = await getOrSet(keyv, `s:${status}`, () => load(status), { dependsOn: [matching(Ticket, { status })] });
            const ended = performance.now();
            counts.reads++;
            if (isStale(status, listed, started, ended)) counts.stale++;
          }
        };
        // Track writes in flight (begun, not yet in the history) so a read overlapping one is not judged.
        const trackedWriter = async () => {
          while (Date.now() < deadline) {
            const id = pick(ids);
            const before = busy.get(id) ?? Promise.resolve();
            const mine = before.then(async () => {
              begun.set(id, performance.now());
              try {
                await write(id);
              } finally {
                begun.delete(id);
              }
            });
            busy.set(id, mine.catch(() => undefined));
            await mine;
            await sleep(Math.random() * 4);
          }
        };
        await Promise.all([trackedWriter(), trackedWriter(), trackedWriter(), refresher(), ...Array.from({ length: 4 }, () => reader())]);
        console.log(`      ${counts.writes} writes ${JSON.stringify(counts.kinds)}; getOrSet: ${counts.stale} stale of ${counts.reads} reads`);
        expect(counts.writes).to.be.greaterThan(100);
        expect(counts.reads).to.be.greaterThan(300);
        expect(counts.stale).to.equal(0);
        expect(errors.map((e) => e.message)).to.deep.equal([]);
      } finally {
        hooks.unregister();
        await keyv.clear();
        await store.disconnect();
        await closeSequelize(sequelize);
      }
    });
  });
}
