#!/usr/bin/env node
// Entry shim for `npx hotcold`: load the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('./hotcold.ts');
