"""What an operator watches: structured logs (`logs`), Prometheus metrics (`metrics`), and the
request context both carry (`context`). No web framework here: the middleware that feeds them
lives in `payrequest.web.observe`."""
