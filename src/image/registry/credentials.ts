// A registry login, as the credentials store (image/auth.ts) keeps it and the client sends it.
export interface Credentials {
  username: string;
  password: string;
}
