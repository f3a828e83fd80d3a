//! Real-time chat events: rooms, members and messages (room and direct).
//!
//! Invariant: a message update or delete names a message created earlier, with the same sender
//! and the same room or recipient.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Ctx, EventType, Generator, id_field, log_normal, one, weighted};
use crate::entities::{Kind, Message, pick_hot, pick_recent};
use crate::json::JsonWriter;
use crate::taxonomy::ROOM_TOPICS;

fn write_body(w: &mut JsonWriter, rng: &mut ChaCha8Rng) {
    let attachment = rng.random_bool(0.08);
    w.key("length");
    w.int(if attachment && rng.random_bool(0.4) {
        0
    } else {
        log_normal(rng, 45.0, 1.0).clamp(1.0, 5000.0) as i64
    });
    w.key("has_attachment");
    w.bool(attachment);
    if attachment {
        w.key("attachment_type");
        w.str(weighted(
            rng,
            &[
                ("image", 45),
                ("file", 30),
                ("link", 15),
                ("video", 6),
                ("audio", 4),
            ],
        ));
    }
}

impl Generator {
    pub(super) fn chat(&mut self, rng: &mut ChaCha8Rng, ty: EventType, ctx: Ctx) {
        use EventType::*;
        let ids = self.ids;
        let t = ctx.tenant;
        let user = |i: u64| ids.entity(Kind::ChatUser, t, i);
        let room = |i: u64| ids.entity(Kind::Room, t, i);
        let pools = &mut self.pools[t];
        match ty {
            RoomCreated => {
                let index = pools.rooms;
                pools.rooms += 1;
                let creator = if pools.chat_users == 0 || rng.random_bool(0.15) {
                    pools.chat_users += 1;
                    pools.chat_users - 1
                } else {
                    pick_hot(rng, pools.chat_users)
                };
                self.open(rng, ty, ctx, user(creator));
                let w = &mut self.writer;
                id_field(w, "room_id", room(index));
                w.key("name");
                w.str_args(format_args!("{}-{index}", one(rng, &ROOM_TOPICS)));
                w.key("visibility");
                w.str(if rng.random_bool(0.7) {
                    "public"
                } else {
                    "private"
                });
                id_field(w, "created_by", user(creator));
            }
            UserJoined | UserLeft => {
                let r = pick_hot(rng, pools.rooms);
                let u = if ty == UserJoined && (pools.chat_users == 0 || rng.random_bool(0.4)) {
                    pools.chat_users += 1;
                    pools.chat_users - 1
                } else {
                    pick_hot(rng, pools.chat_users)
                };
                self.open(rng, ty, ctx, user(u));
                let w = &mut self.writer;
                id_field(w, "room_id", room(r));
                id_field(w, "user_id", user(u));
            }
            MessageCreated | MessageUpdated | MessageDeleted => {
                let index;
                let message = if ty == MessageCreated {
                    let sender = pick_hot(rng, pools.chat_users);
                    let direct = pools.chat_users >= 2 && rng.random_bool(0.25);
                    let target = if direct {
                        let r = pick_hot(rng, pools.chat_users);
                        if r == sender {
                            (r + 1) % pools.chat_users
                        } else {
                            r
                        }
                    } else {
                        pick_hot(rng, pools.rooms)
                    };
                    let m = Message {
                        sender,
                        target,
                        direct,
                    };
                    index = pools.messages.len() as u64;
                    pools.messages.push(m);
                    m
                } else {
                    index = pick_recent(rng, pools.messages.len() as u64);
                    pools.messages[index as usize]
                };
                self.open(rng, ty, ctx, user(message.sender));
                let w = &mut self.writer;
                id_field(w, "message_id", ids.entity(Kind::Message, t, index));
                w.key("kind");
                if message.direct {
                    w.str("direct");
                    id_field(w, "recipient_id", user(message.target));
                } else {
                    w.str("room");
                    id_field(w, "room_id", room(message.target));
                }
                id_field(w, "sender_id", user(message.sender));
                if ty != MessageDeleted || rng.random_bool(0.5) {
                    write_body(w, rng);
                }
            }
            _ => unreachable!("{ty:?} is not a chat event"),
        }
        self.close();
    }
}
