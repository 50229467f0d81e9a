"""The Textual app: the app, its CSS, its dialogs, its keys and its view of a job.

With ``tui_annex/widgets/`` the only part of tui-annex that imports Textual.
"""
