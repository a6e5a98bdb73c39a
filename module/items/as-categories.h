#ifndef AS_CATEGORIES_H
#define AS_CATEGORIES_H

/* EAS categories <-> IMAP keywords, reversibly.

   A name that is already a plain IMAP atom (ASCII letters, digits and a
   few punctuation characters, not starting with '$' or '\', not one of
   the well-known protocol keywords such as Junk) is used as it is, so
   "Project" is the keyword Project. Any other name is written as
   "$Cat:" + the name's UTF-8 bytes with '=' + two hex digits for every
   byte outside that set: "Work Items" -> "$Cat:Work=20Items",
   "Müll" -> "$Cat:M=C3=BCll".

   Other keywords starting with '$' ($Forwarded, $MDNSent, $Junk, ...)
   are protocol flags, not categories. */
#define AS_CATEGORY_KEYWORD_PREFIX "$Cat:"
#define AS_CATEGORY_MAX_LEN 255

/* Returns the keyword, or NULL if the name can't be a category (empty,
   too long, control characters, invalid UTF-8). */
const char *as_category_to_keyword(const char *name);
/* Returns the category name, or NULL if the keyword isn't one. */
const char *as_keyword_to_category(const char *keyword);

#endif
