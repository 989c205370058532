/**
 * Names that end up in InfluxDB tags, Home Assistant entity attributes and log lines: letters (any
 * script), digits, space and . _ : @ ( ) + -; 1-64 characters, no leading or trailing space.
 * No newline, control character, quote, comma, equals sign or backslash can get through.
 */
export const SAFE_NAME = /^[\p{L}\p{N}](?:[\p{L}\p{N} ._:@()+-]{0,62}[\p{L}\p{N}._:@()+-])?$/u;
export const SAFE_NAME_RULE = '1-64 characters: letters, digits, space and . _ : @ ( ) + - (no leading or trailing space)';
