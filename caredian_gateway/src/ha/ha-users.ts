// Who pressed a button: a Home Assistant user id (the companion app's event context) as the name of
// the person linked to that user, else the user's own name, else "Home Assistant user".
// person/list needs no admin rights; config/auth/list does (the Supervisor's proxy and a long-lived
// token of an admin have them), so it is only the second choice.
import type { Logger } from '../core/logger.js';
import type { HaClient } from './ha-client.js';

export const UNKNOWN_USER = 'Home Assistant user';

interface PersonItem {
  name?: string;
  user_id?: string | null;
}
interface UserItem {
  id: string;
  name?: string | null;
  username?: string | null;
}

export class HaUserNames {
  constructor(
    private readonly ha: HaClient,
    private readonly log: Logger,
  ) {}

  async nameOf(userId: string | null | undefined): Promise<string> {
    if (!userId) return UNKNOWN_USER;
    try {
      const persons = await this.ha.request<{ storage?: PersonItem[]; config?: PersonItem[] }>({ type: 'person/list' });
      const p = [...(persons.storage ?? []), ...(persons.config ?? [])].find((x) => x.user_id === userId && x.name);
      if (p?.name) return p.name;
    } catch (err) {
      this.log.debug({ reason: errorText(err) }, 'person/list failed; trying the user list');
    }
    try {
      const users = await this.ha.request<UserItem[]>({ type: 'config/auth/list' });
      const u = users.find((x) => x.id === userId);
      if (u?.name || u?.username) return (u.name || u.username)!;
    } catch (err) {
      this.log.debug({ reason: errorText(err) }, 'config/auth/list failed; the acknowledgement names no one');
    }
    return UNKNOWN_USER;
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  const e = err as { code?: unknown; message?: unknown };
  return typeof e?.message === 'string' ? `${String(e.code)}: ${e.message}` : String(err);
}
