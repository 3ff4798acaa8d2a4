/**
 * PHP's side of the wire, for talking to or as Bitrix24: `http_build_query` (how Bitrix24
 * writes event bodies) and `parse_str` (how its PHP reads query strings and form bodies).
 */
export { httpBuildQuery, urlencode, phpFloat } from './encode.js';
export {
  parseStr,
  decodeForm,
  decodeJson,
  urldecode,
  phpDefaultLimits,
  type PhpInputLimits,
  type ParsedStr,
  type Params,
} from './decode.js';
export { PhpArray, phpKey, toJsonValue, type PhpKey, type PhpValue } from './array.js';
