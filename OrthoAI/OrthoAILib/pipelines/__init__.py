"""The imaging pipelines (core): ``Image`` in, a frozen result out (see ``pipelines.base``)."""
