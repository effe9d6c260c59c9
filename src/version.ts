/** The API's version, shown in the OpenAPI and AsyncAPI documents. */
export const API_VERSION = '0.1.0'
