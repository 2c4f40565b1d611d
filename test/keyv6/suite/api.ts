import { faker } from "@faker-js/faker";
import type KeyvModule from "keyv";
import type { KeyvStoreFn, TestFunction } from "./types.js";

const delay = async (ms: number) =>
	new Promise<void>((resolve) => {
		setTimeout(resolve, ms);
	});

/**
 * Registers Keyv API tests: set, get, getMany, delete, deleteMany, clear, and has.
 * Tests operate through the Keyv wrapper, not directly on the storage adapter.
 * @param test - The test registration function (e.g. vitest `it`)
 * @param Keyv - The Keyv constructor
 * @param store - Factory that returns a fresh store instance per test
 */
const keyvApiTests = (test: TestFunction, Keyv: typeof KeyvModule, store: KeyvStoreFn) => {
	test(".set(key, value) returns a Promise", (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		t.expect(keyv.set(key, value) instanceof Promise).toBeTruthy();
	});

	test(".set(key, value) resolves to true", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		t.expect(await keyv.set(key, value)).toBeTruthy();
	});

	test(".set(key, value) sets a value", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		await keyv.set(key, value);
		t.expect(await keyv.get(key)).toBe(value);
	});

	test(".set(key, value, ttl) sets a value that expires", async (t) => {
		const ttl = 1000;
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		await keyv.set(key, value, ttl);
		t.expect(await keyv.get(key)).toBe(value);
		await delay(ttl + 100);
		t.expect(await keyv.get(key)).toBeUndefined();
	});

	test(".get(key) returns a Promise", (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		t.expect(keyv.get(key) instanceof Promise).toBeTruthy();
	});

	test(".get(key) resolves to value", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		await keyv.set(key, value);
		t.expect(await keyv.get(key)).toBe(value);
	});

	test(".get(key) with nonexistent key resolves to undefined", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		t.expect(await keyv.get(key)).toBeUndefined();
	});

	test(".get([keys]) should return array values", async (t) => {
		const keyv = new Keyv({ store: store() });
		const ttl = 3000;
		const key1 = faker.string.alphanumeric(10);
		const value1 = faker.lorem.sentence();
		const key2 = faker.string.alphanumeric(10);
		const value2 = faker.lorem.sentence();
		const key3 = faker.string.alphanumeric(10);
		const value3 = faker.lorem.sentence();
		await keyv.set(key1, value1, ttl);
		await keyv.set(key2, value2, ttl);
		await keyv.set(key3, value3, ttl);
		const values = (await keyv.get([key1, key2, key3])) as string[];
		t.expect(Array.isArray(values)).toBeTruthy();
		t.expect(values[0]).toBe(value1);
		t.expect(values[1]).toBe(value2);
		t.expect(values[2]).toBe(value3);
	});

	test(".get([keys]) should return array value undefined when expires", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key1 = faker.string.alphanumeric(10);
		const value1 = faker.lorem.sentence();
		const key2 = faker.string.alphanumeric(10);
		const value2 = faker.lorem.sentence();
		const key3 = faker.string.alphanumeric(10);
		const value3 = faker.lorem.sentence();
		await keyv.set(key1, value1);
		await keyv.set(key2, value2, 1000);
		await keyv.set(key3, value3);
		await delay(1100);
		const values = await keyv.get([key1, key2, key3]);
		t.expect(Array.isArray(values)).toBeTruthy();
		t.expect(values[0]).toBe(value1);
		t.expect(values[1]).toBeUndefined();
		t.expect(values[2]).toBe(value3);
	});

	test(".get([keys]) should return array values with undefined", async (t) => {
		const keyv = new Keyv({ store: store() });
		const ttl = 3000;
		const key1 = faker.string.alphanumeric(10);
		const value1 = faker.lorem.sentence();
		const key2 = faker.string.alphanumeric(10);
		const key3 = faker.string.alphanumeric(10);
		const value3 = faker.lorem.sentence();
		await keyv.set(key1, value1, ttl);
		await keyv.set(key3, value3, ttl);
		const values = (await keyv.get([key1, key2, key3])) as string[] | undefined[];
		t.expect(Array.isArray(values)).toBeTruthy();
		t.expect(values[0]).toBe(value1);
		t.expect(values[1]).toBeUndefined();
		t.expect(values[2]).toBe(value3);
	});

	test(".get([keys]) should return undefined array for all no existent keys", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key1 = faker.string.alphanumeric(10);
		const key2 = faker.string.alphanumeric(10);
		const key3 = faker.string.alphanumeric(10);
		const values = await keyv.get([key1, key2, key3]);
		t.expect(Array.isArray(values)).toBeTruthy();
		t.expect(values).toEqual([undefined, undefined, undefined]);
	});

	test(".delete(key) returns a Promise", (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		t.expect(keyv.delete(key) instanceof Promise).toBeTruthy();
	});

	test(".delete([key]) returns a Promise", (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		t.expect(keyv.delete([key]) instanceof Promise).toBeTruthy();
	});

	test(".delete(key) resolves to true", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		await keyv.set(key, value);
		t.expect(await keyv.delete(key)).toBeTruthy();
	});

	test(".delete(key) with nonexistent key resolves to false", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		t.expect(await keyv.delete(key)).toBeFalsy();
	});

	test(".delete(key) deletes a key", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		await keyv.set(key, value);
		t.expect(await keyv.delete(key)).toBeTruthy();
		t.expect(await keyv.get(key)).toBeUndefined();
	});

	test(".deleteMany([keys]) should delete multiple key", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key1 = faker.string.alphanumeric(10);
		const value1 = faker.lorem.sentence();
		const key2 = faker.string.alphanumeric(10);
		const value2 = faker.lorem.sentence();
		const key3 = faker.string.alphanumeric(10);
		const value3 = faker.lorem.sentence();
		await keyv.set(key1, value1);
		await keyv.set(key2, value2);
		await keyv.set(key3, value3);
		const result = await keyv.delete([key1, key2, key3]);
		t.expect(Array.isArray(result)).toBe(true);
		t.expect(await keyv.get(key1)).toBeUndefined();
		t.expect(await keyv.get(key2)).toBeUndefined();
		t.expect(await keyv.get(key3)).toBeUndefined();
	});

	test(".deleteMany([keys]) with nonexistent keys resolves to array of false", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key1 = faker.string.alphanumeric(10);
		const key2 = faker.string.alphanumeric(10);
		const key3 = faker.string.alphanumeric(10);
		const result = await keyv.delete([key1, key2, key3]);
		t.expect(Array.isArray(result)).toBe(true);
		t.expect((result as boolean[]).every((v) => v === false)).toBe(true);
	});

	test(".clear() returns a Promise", async (t) => {
		const keyv = new Keyv({ store: store() });
		const returnValue = keyv.clear();
		t.expect(returnValue instanceof Promise).toBeTruthy();
		await returnValue;
	});

	test(".clear() resolves to undefined", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		t.expect(await keyv.clear()).toBeUndefined();
		await keyv.set(key, value);
		t.expect(await keyv.clear()).toBeUndefined();
	});

	test(".clear() deletes all key/value pairs", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key1 = faker.string.alphanumeric(10);
		const value1 = faker.lorem.sentence();
		const key2 = faker.string.alphanumeric(10);
		const value2 = faker.lorem.sentence();
		await keyv.set(key1, value1);
		await keyv.set(key2, value2);
		await keyv.clear();
		t.expect(await keyv.get(key1)).toBeUndefined();
		t.expect(await keyv.get(key2)).toBeUndefined();
	});

	test(".has(key) where key is the key we are looking for", async (t) => {
		const keyv = new Keyv({ store: store() });
		const key = faker.string.alphanumeric(10);
		const value = faker.lorem.sentence();
		const nonExistentKey = faker.string.alphanumeric(10);
		await keyv.set(key, value);
		t.expect(await keyv.has(key)).toBeTruthy();
		t.expect(await keyv.has(nonExistentKey)).toBeFalsy();
	});
};

export { keyvApiTests };
