"""What every long-lived part of Baton runs on: the lifecycle of services, the wall clock the
shells read, and logging that stays quiet when the same thing goes wrong many times."""
