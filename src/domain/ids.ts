/** An id is an ObjectId's hex form: the pattern every schema and adapter checks ids with. */
export const ID_HEX = '[0-9a-fA-F]{24}'
export const ID_PATTERN = `^${ID_HEX}$`

const ID = new RegExp(ID_PATTERN)

export const isId = (value: string): boolean => ID.test(value)
