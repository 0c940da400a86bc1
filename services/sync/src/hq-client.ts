// The store's side of HQ's API lives in @tillstream/hq-client, so that the chain simulator
// (packages/simulator) uploads through the same client, headers and backoff as sync.
export * from '@tillstream/hq-client';
