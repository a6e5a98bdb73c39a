#ifndef AS_NOTE_H
#define AS_NOTE_H

/* Notes (MS-ASNOTE, protocol 14.0+) stored as ordinary messages in a
   folder typed "note" (DESIGN.md, GroupWare-as-Email): the Subject header
   is the note's subject, the text (plain or HTML) body is the note, the
   categories are IMAP keywords as for mail, and the message's INTERNALDATE
   is when it was last modified (an edit saves a new message). */

#define AS_NOTE_MESSAGE_CLASS "IPM.StickyNote"

/* The class itself is as_item_class_note (items/as-item.h). */

#endif
