"""gongkai: collect Chinese government 计划总结 disclosure reports into PostgreSQL."""

__version__ = "0.1.0"
