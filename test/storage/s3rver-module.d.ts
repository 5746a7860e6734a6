// s3rver ships no types; the tests use only these.
declare module "s3rver" {
  export default class S3rver {
    constructor(options: { address?: string; port?: number; silent?: boolean; directory?: string; configureBuckets?: Array<{ name: string }> });
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}

declare module "s3rver/lib/stores/filesystem.js" {
  export interface ListResult { objects: Array<{ key: string }>; commonPrefixes: string[]; isTruncated: boolean }
  export interface ListOptions { delimiter?: string | undefined; prefix?: string | undefined; maxKeys?: number; startAfter?: string | undefined }
  export default class FilesystemStore {
    listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
  }
}
