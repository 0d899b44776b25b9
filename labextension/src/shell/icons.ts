import { LabIcon } from '@jupyterlab/ui-components';

/** Three stacked layers: the platform under the notebooks. `jp-icon3` follows the theme. */
const MLINFRA_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2.2 1.8 7.4 12 12.6l10.2-5.2L12 2.2Zm0 2.25 5.8 2.95L12 10.35 6.2 7.4 12 4.45Z"/>
    <path d="M3.9 10.9 1.8 12 12 17.2 22.2 12l-2.1-1.1L12 15.05 3.9 10.9Z"/>
    <path d="M3.9 15.5 1.8 16.6 12 21.8l10.2-5.2-2.1-1.1L12 19.65 3.9 15.5Z"/>
  </g>
</svg>`;

export const mlinfraIcon = new LabIcon({
  name: 'jupyter-mlinfra:panel',
  svgstr: MLINFRA_SVG
});
