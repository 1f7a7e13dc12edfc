-- Undo the patch-parts migration on one table (the fallback test; patch_parts_enable.sql turns it on).
ALTER TABLE {t:Identifier} MODIFY SETTING enable_block_number_column = 0, enable_block_offset_column = 0
