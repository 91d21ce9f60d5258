import { createContext, useContext } from 'react';
import type { ApiClient } from './api/client';
import type { RuntimeConfig } from './api/types';
import type { Session } from './auth/session';

export interface AppValue {
  config: RuntimeConfig;
  client: ApiClient;
  session: Session;
  signOut: () => void;
}

export const AppContext = createContext<AppValue | null>(null);

export function useApp(): AppValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside the signed-in app');
  return value;
}
