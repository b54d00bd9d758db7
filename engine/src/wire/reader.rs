//! Protobuf wire-format reading over a borrowed message body: field keys, varints, fixed-width values,
//! length-delimited slices, group skipping, and the checks a full prost decode applies to the fields the
//! decoder does not keep.

use super::WireError;
use super::schema::{Kind, Msg};

/// The decoder's internal result. The error is boxed: a `WireError` is several words wide, and inline in
/// every result it would make each field read move it around; a failed request pays one allocation.
pub(super) type Result<T> = std::result::Result<T, Box<WireError>>;

/// prost's nesting budget (`RECURSION_LIMIT`): the fields of the request itself get 100, each embedded
/// message one less, and a message (or an unknown field) met with no budget left is refused. Keeping the
/// same count refuses the same deeply nested requests and bounds this decoder's own recursion.
pub(super) const RECURSION_LIMIT: u32 = 100;

/// One field's value as the wire carries it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    /// A `fixed32`, whose value no kept field needs.
    Fixed32,
    Len(&'a [u8]),
    /// A group, already skipped: no field of the schema is a group, so only an unknown field can be one.
    Group,
}

impl Field<'_> {
    fn wire_type(&self) -> &'static str {
        match self {
            Field::Varint(_) => "varint",
            Field::Fixed64(_) => "64-bit",
            Field::Fixed32 => "32-bit",
            Field::Len(_) => "length-delimited",
            Field::Group => "group",
        }
    }
}

/// The fields of one message body not read yet.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader<'a> {
    rest: &'a [u8],
    msg: Msg,
    /// prost's `DecodeContext` count for the fields of this message (see [`RECURSION_LIMIT`]).
    budget: u32,
}

impl<'a> Reader<'a> {
    pub(super) fn new(msg: Msg, bytes: &'a [u8], budget: u32) -> Self {
        Reader {
            rest: bytes,
            msg,
            budget,
        }
    }

    /// The bytes not read yet.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(super) fn budget(&self) -> u32 {
        self.budget
    }

    /// The next field, or `None` at the end of the message. Groups are skipped here, so that a caller
    /// never reads the inside of one as fields of the message.
    ///
    /// This and the typed accessors below are forced inline into each field loop: reading a field takes a
    /// handful of instructions, and without inlining the calls and the results moved through memory cost
    /// more than the reading (about a third of the decoder's instructions on a typical request).
    #[inline(always)]
    pub(super) fn next(&mut self) -> Result<Option<(u32, Field<'a>)>> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (tag, wire_type) = self.key()?;
        let field = self.field(tag, wire_type, self.budget)?;
        Ok(Some((tag, field)))
    }

    /// A field key: prost refuses keys above `u32::MAX`, tag 0 and wire types 6 and 7.
    #[inline(always)]
    fn key(&mut self) -> Result<(u32, u8)> {
        let key = self.varint()?;
        match u32::try_from(key) {
            Ok(short) if short >> 3 != 0 && short & 7 <= 5 => Ok((short >> 3, (short & 7) as u8)),
            _ => Err(WireError::InvalidKey {
                message: self.msg.name(),
                key,
            }
            .into()),
        }
    }

    #[inline(always)]
    fn field(&mut self, tag: u32, wire_type: u8, budget: u32) -> Result<Field<'a>> {
        Ok(match wire_type {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(self.fixed()?)),
            2 => {
                let len = self.varint()?;
                let split = usize::try_from(len)
                    .ok()
                    .and_then(|n| self.rest.split_at_checked(n));
                let Some((bytes, rest)) = split else {
                    return Err(WireError::LengthOverflow {
                        message: self.msg.name(),
                        tag,
                        len,
                        remaining: self.rest.len(),
                    }
                    .into());
                };
                self.rest = rest;
                Field::Len(bytes)
            }
            3 => {
                self.skip_group(tag, budget)?;
                Field::Group
            }
            5 => {
                self.fixed::<4>()?;
                Field::Fixed32
            }
            // 4 (end group) outside a group; `key` has refused 6 and 7.
            _ => {
                return Err(WireError::UnexpectedEndGroup {
                    message: self.msg.name(),
                    tag,
                }
                .into());
            }
        })
    }

    /// Skips a group up to its matching end-group key, spending nesting budget as prost's `skip_field` does.
    #[cold]
    #[inline(never)]
    fn skip_group(&mut self, tag: u32, budget: u32) -> Result<()> {
        if budget == 0 {
            return Err(self.too_deep(self.msg));
        }
        loop {
            let (inner, wire_type) = self.key()?;
            if wire_type == 4 {
                if inner == tag {
                    return Ok(());
                }
                return Err(WireError::UnexpectedEndGroup {
                    message: self.msg.name(),
                    tag: inner,
                }
                .into());
            }
            if budget == 1 {
                return Err(self.too_deep(self.msg));
            }
            self.field(inner, wire_type, budget - 1)?;
        }
    }

    /// A LEB128 varint of at most 10 bytes whose value fits in 64 bits (prost's limits).
    #[inline(always)]
    fn varint(&mut self) -> Result<u64> {
        match *self.rest {
            [byte, ref rest @ ..] if byte < 0x80 => {
                self.rest = rest;
                Ok(u64::from(byte))
            }
            [low, high, ref rest @ ..] if high < 0x80 => {
                self.rest = rest;
                Ok(u64::from(low & 0x7f) | u64::from(high) << 7)
            }
            _ => self.varint_long(),
        }
    }

    #[inline(never)]
    fn varint_long(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.rest.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    break;
                }
                self.rest = self.rest.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        if self.rest.len() < 10 {
            return Err(self.truncated());
        }
        Err(WireError::InvalidVarint {
            message: self.msg.name(),
        }
        .into())
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let Some((bytes, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(self.truncated());
        };
        self.rest = rest;
        Ok(*bytes)
    }

    /// Field `tag` (a varint field of the schema) as its raw 64 bits.
    #[inline(always)]
    pub(super) fn varint_field(&self, tag: u32, field: Field<'a>) -> Result<u64> {
        match field {
            Field::Varint(value) => Ok(value),
            _ => Err(self.wrong_type(tag, field)),
        }
    }

    #[inline(always)]
    pub(super) fn fixed64(&self, tag: u32, field: Field<'a>) -> Result<u64> {
        match field {
            Field::Fixed64(value) => Ok(value),
            _ => Err(self.wrong_type(tag, field)),
        }
    }

    #[inline(always)]
    pub(super) fn bytes(&self, tag: u32, field: Field<'a>) -> Result<&'a [u8]> {
        match field {
            Field::Len(bytes) => Ok(bytes),
            _ => Err(self.wrong_type(tag, field)),
        }
    }

    #[inline(always)]
    pub(super) fn string(&self, tag: u32, field: Field<'a>) -> Result<&'a str> {
        simdutf8::basic::from_utf8(self.bytes(tag, field)?).map_err(|_| self.invalid_utf8(tag))
    }

    /// Checks that a string field the caller skips is UTF-8. Most are ASCII, which a word-at-a-time scan
    /// settles without the full UTF-8 check (a call per string, which showed in profiles of skipped fields).
    #[inline(always)]
    fn valid_string(&self, tag: u32, field: Field<'a>) -> Result<()> {
        let bytes = self.bytes(tag, field)?;
        self.check_utf8_of(tag, bytes)
    }

    /// Checks the key (field 1) of a `KeyValue` read as bytes.
    pub(super) fn check_utf8(&self, key: &[u8]) -> Result<()> {
        self.check_utf8_of(1, key)
    }

    #[inline(always)]
    fn check_utf8_of(&self, tag: u32, bytes: &[u8]) -> Result<()> {
        if bytes.is_ascii() || simdutf8::basic::from_utf8(bytes).is_ok() {
            Ok(())
        } else {
            Err(self.invalid_utf8(tag))
        }
    }

    /// Field `tag` as an embedded `msg`, one nesting level down.
    #[inline(always)]
    pub(super) fn message(&self, tag: u32, field: Field<'a>, msg: Msg) -> Result<Reader<'a>> {
        let bytes = self.bytes(tag, field)?;
        match self.budget.checked_sub(1) {
            Some(budget) => Ok(Reader::new(msg, bytes, budget)),
            None => Err(self.too_deep(msg)),
        }
    }

    /// Checks a field the caller does not keep as a full decode would: a declared field must have its
    /// wire type, a valid string and a valid embedded message; an unknown one is skipped while nesting
    /// budget remains.
    pub(super) fn other(&self, tag: u32, field: Field<'a>) -> Result<()> {
        let Some((_, kind)) = self.msg.field(tag) else {
            if self.budget == 0 {
                return Err(self.too_deep(self.msg));
            }
            return Ok(());
        };
        match (kind, field) {
            (Kind::Varint, Field::Varint(_))
            | (Kind::Fixed64, Field::Fixed64(_))
            | (Kind::Fixed32, Field::Fixed32)
            | (Kind::Bytes, Field::Len(_)) => Ok(()),
            (Kind::Str, _) => self.valid_string(tag, field),
            (Kind::Message(msg), _) => self.message(tag, field, msg)?.walk(true).map(drop),
            _ => Err(self.wrong_type(tag, field)),
        }
    }

    /// Reads the rest of the message and counts the occurrences of field 1 (the elements of an
    /// `ArrayValue` or a `KeyValueList`). With `validate`, every field is checked as by [`Reader::other`];
    /// without, only the framing is read, which is enough for bytes already validated.
    pub(super) fn walk(mut self, validate: bool) -> Result<usize> {
        let mut ones = 0;
        while let Some((tag, field)) = self.next()? {
            ones += usize::from(tag == 1);
            if validate {
                self.other(tag, field)?;
            }
        }
        Ok(ones)
    }

    fn field_name(&self, tag: u32) -> &'static str {
        self.msg
            .field(tag)
            .map_or("(unknown field)", |(name, _)| name)
    }

    #[cold]
    #[inline(never)]
    fn wrong_type(&self, tag: u32, field: Field<'a>) -> Box<WireError> {
        let expected = self
            .msg
            .field(tag)
            .map_or("?", |(_, kind)| kind.wire_type());
        Box::new(WireError::WrongWireType {
            message: self.msg.name(),
            field: self.field_name(tag),
            expected,
            actual: field.wire_type(),
        })
    }

    #[cold]
    #[inline(never)]
    fn invalid_utf8(&self, tag: u32) -> Box<WireError> {
        Box::new(WireError::InvalidUtf8 {
            message: self.msg.name(),
            field: self.field_name(tag),
        })
    }

    #[cold]
    fn truncated(&self) -> Box<WireError> {
        Box::new(WireError::Truncated {
            message: self.msg.name(),
        })
    }

    #[cold]
    fn too_deep(&self, msg: Msg) -> Box<WireError> {
        Box::new(WireError::RecursionLimit {
            message: msg.name(),
        })
    }
}
