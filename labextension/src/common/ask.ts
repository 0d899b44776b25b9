/** Ask the user for a name (palette and menu commands that open a page without args). */

import { InputDialog } from '@jupyterlab/apputils';

/** "Open Model…" from the palette or menu: ask which one. */
export async function askName(
  title: string,
  load: () => Promise<string[]>
): Promise<string | null> {
  let items: string[] = [];
  try {
    items = await load();
  } catch {
    items = [];
  }
  const result = items.length
    ? await InputDialog.getItem({ title, items, editable: true })
    : await InputDialog.getText({ title });
  return result.button.accept && result.value ? result.value : null;
}
