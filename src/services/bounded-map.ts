/**
 * Sets `key` as the newest entry of `map` (a Map keeps insertion order) and
 * forgets the oldest entries beyond `max`: a size-bounded memory of the
 * latest, with no timer and no scan.
 */
export function setBounded<K, V> (map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value!)
}
