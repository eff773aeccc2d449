"""A learner's Jupyter server (make lab, and a student's server on the hub): Notebook 7 pages
beside JupyterLab ones without a stale file path.

jupyterlab_server writes each JupyterLab page's `treePath` (the file in its URL) into the
server-wide page_config_data, and Notebook 7 copies that dict into every page it serves. A
notebook opened in Notebook 7 after a JupyterLab page then carries that old path; Notebook's tree
resolver hands it to the file browser, which runs `filebrowser:open-path`, a command the notebook
page does not have ("Command 'filebrowser:open-path' not registered", on every load). Every page
that needs `treePath` (JupyterLab's, Notebook's tree) sets it after this hook, so dropping it
here loses nothing.
"""

import os


def _no_stale_tree_path(handler, page_config):
    page_config.pop("treePath", None)
    return page_config


c = get_config()  # noqa: F821 (provided by Jupyter when it reads this file)
# Not on a hub: JupyterHub's single-user server installs its own page_config_hook (it places the
# hub's API token) over any other, and reads tornado_settings with `in`, which a lazily updated
# value does not support: with this hook the students' servers never started.
if "JUPYTERHUB_API_TOKEN" not in os.environ:
    c.ServerApp.tornado_settings.update({"page_config_hook": _no_stale_tree_path})
