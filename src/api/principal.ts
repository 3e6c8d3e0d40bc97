/** The caller of a request; lives in util so the gateway's routes read it as the API's do. */
export { principalOf, setPrincipal } from "../util/principal.js";
