import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ConversationsPage } from './pages/conversations.js';
import { DeadPage } from './pages/dead.js';
import { EventPage } from './pages/event.js';
import { EventsPage } from './pages/events.js';
import { OverviewPage } from './pages/overview.js';
import { PortalsPage } from './pages/portals.js';
import { usePlace, type Place } from './router.js';

const NAV = [
  ['/', 'Overview'],
  ['/events', 'Events'],
  ['/dead', 'Dead letters'],
  ['/conversations', 'Conversations'],
  ['/portals', 'Portals and bots'],
] as const;

function Page({ place }: { place: Place }) {
  const event = /^\/events\/(\d+)$/.exec(place.path);
  if (event) return <EventPage id={Number(event[1])} />;
  switch (place.path) {
    case '/events':
      return <EventsPage place={place} />;
    case '/dead':
      return <DeadPage place={place} />;
    case '/conversations':
      return <ConversationsPage place={place} />;
    case '/portals':
      return <PortalsPage />;
    default:
      return <OverviewPage />;
  }
}

type Theme = 'light' | 'dark' | 'auto';

const systemDark = matchMedia('(prefers-color-scheme: dark)');

/** The stylesheet's colours follow data-theme alone (one dark palette): `auto` sets it from the system's scheme. */
function applyTheme(theme: Theme) {
  document.documentElement.dataset.theme = theme === 'auto' ? (systemDark.matches ? 'dark' : 'light') : theme;
}

function ThemeSwitch() {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('b24gw-theme') as Theme | null) ?? 'auto');
  useEffect(() => {
    applyTheme(theme);
    localStorage.setItem('b24gw-theme', theme);
    if (theme !== 'auto') return;
    const follow = () => applyTheme('auto');
    systemDark.addEventListener('change', follow);
    return () => systemDark.removeEventListener('change', follow);
  }, [theme]);
  return (
    <label class="theme">
      Theme{' '}
      <select value={theme} onChange={(e) => setTheme((e.target as HTMLSelectElement).value as Theme)}>
        <option value="auto">system</option>
        <option value="light">light</option>
        <option value="dark">dark</option>
      </select>
    </label>
  );
}

function App() {
  const place = usePlace();
  const section = place.path.startsWith('/events/') ? '/events' : place.path;
  useEffect(() => {
    // A new page is read from its heading: focus moves there, as a screen reader user expects.
    document.querySelector<HTMLElement>('main')?.focus({ preventScroll: true });
  }, [place.path]);
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => (e.preventDefault(), document.querySelector<HTMLElement>('main')?.focus())}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">b24-im-gateway</span>
        <nav aria-label="Console">
          {NAV.map(([path, label]) => (
            <a href={`#${path}`} aria-current={section === path ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <ThemeSwitch />
      </header>
      <main id="main" tabIndex={-1}>
        <Page place={place} />
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
// The "Loading" line is for a browser that has not run this yet: gone once it has.
root.textContent = '';
render(<App />, root);
