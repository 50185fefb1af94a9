"""A realistic set of organisations for the demonstration: transferring agencies of every category
and a partner office, with the formats and encodings their systems use. The codes are
illustrative; the real list is loaded with ``aedx orgs import``."""

from __future__ import annotations

DEMO_AGENCIES_CSV = """\
code,name,role,category,preferred_format,preferred_encoding
A383000000,財政部臺北國稅局,agency,tax,csv,utf-8
A383100000,財政部高雄國稅局,agency,tax,csv,cp950
A383200000,財政部北區國稅局,agency,tax,fixed,cp950
A383300000,財政部中區國稅局,agency,tax,csv,utf-8
A383400000,財政部南區國稅局,agency,tax,jsonl,utf-8
A379010000,臺北市稅捐稽徵處,agency,tax,csv,cp950
A380010000,臺中市政府地方稅務局,agency,tax,csv,utf-8
A382010000,高雄市政府地方稅務局,agency,tax,fixed,cp950
A397000000,衛生福利部中央健康保險署,agency,nhi,csv,utf-8
A375000000,勞動部勞工保險局,agency,nhi,csv,cp950
A315010000,交通部公路局臺北區監理所,agency,fine,csv,cp950
A379020000,臺北市交通事件裁決所,agency,fine,csv,utf-8
A376030000,新北市政府環境保護局,agency,fine,jsonl,utf-8
A379030000,臺北市停車管理工程處,agency,fee,csv,utf-8
A313000000,教育部,agency,fee,csv,utf-8
P379040000,臺北市停車管理工程處（查車）,partner,,csv,utf-8
"""
