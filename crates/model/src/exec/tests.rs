use proptest::prelude::*;

use super::*;

fn frame() -> impl Strategy<Value = Frame> {
    let data = proptest::collection::vec(any::<u8>(), 0..200);
    prop_oneof![
        (any::<bool>(), any::<u16>(), any::<u16>()).prop_map(|(tty, cols, rows)| Frame::Start {
            tty,
            cols,
            rows
        }),
        data.clone().prop_map(Frame::Stdin),
        Just(Frame::StdinClosed),
        (any::<u16>(), any::<u16>()).prop_map(|(cols, rows)| Frame::Resize { cols, rows }),
        data.clone().prop_map(Frame::Stdout),
        data.prop_map(Frame::Stderr),
        any::<i32>().prop_map(Frame::Exit),
        ".{0,50}".prop_map(Frame::Error),
    ]
}

/// Every frame decodable from `bytes`, and the error that stopped the decoder if any.
fn decode_all(pieces: &[&[u8]]) -> (Vec<Frame>, Option<FrameError>) {
    let mut d = Decoder::new();
    let mut out = Vec::new();
    for p in pieces {
        d.push(p);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => out.push(f),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

proptest! {
    #[test]
    fn frames_survive_any_split(frames in proptest::collection::vec(frame(), 0..8), cut in any::<prop::sample::Index>()) {
        let wire: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let at = if wire.is_empty() { 0 } else { cut.index(wire.len() + 1) };
        let (got, err) = decode_all(&[&wire[..at], &wire[at..]]);
        prop_assert_eq!(err, None);
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (frames, _) = decode_all(&[&bytes]);
        // Whatever decoded encodes to at most the bytes it came from.
        let len: usize = frames.iter().map(|f| f.encode().len()).sum();
        prop_assert!(len <= bytes.len());
    }

    #[test]
    fn joined_words_split_back(words in proptest::collection::vec(".{0,12}", 1..6)) {
        prop_assert_eq!(split_command(&join_command(&words)).unwrap(), words);
    }

    #[test]
    fn splitting_arbitrary_text_never_panics(text in ".{0,80}") {
        if let Ok(words) = split_command(&text) {
            prop_assert!(!words.is_empty());
        }
    }
}

#[test]
fn a_frame_too_long_is_refused_before_it_arrives() {
    let mut d = Decoder::new();
    d.push(&[STDOUT, 0, 1, 0, 1]);
    assert_eq!(d.next_frame(), Err(FrameError::TooLong(65_537)));
}

#[test]
fn fixed_size_frames_check_their_length() {
    let mut d = Decoder::new();
    d.push(&[EXIT, 0, 0, 0, 2, 0, 1]);
    assert_eq!(
        d.next_frame(),
        Err(FrameError::BadLength {
            kind: EXIT,
            len: 2,
            expected: 4
        })
    );
    let mut d = Decoder::new();
    d.push(&[99, 0, 0, 0, 0]);
    assert_eq!(d.next_frame(), Err(FrameError::UnknownType(99)));
}

#[test]
fn long_data_is_split_into_frames_that_fit() {
    let data = vec![7u8; MAX_PAYLOAD * 2 + 3];
    let (frames, err) = decode_all(&[&data_frames(&data, Frame::Stdout)]);
    assert_eq!(err, None);
    assert_eq!(frames.len(), 3);
    let joined: Vec<u8> = frames
        .into_iter()
        .flat_map(|f| match f {
            Frame::Stdout(d) => d,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(joined, data);
}

#[test]
fn commands_split_as_a_shell_splits_words() {
    let cases: &[(&str, &[&str])] = &[
        ("ls -l /tmp", &["ls", "-l", "/tmp"]),
        (
            "  sh   -c 'echo $HOME | wc'",
            &["sh", "-c", "echo $HOME | wc"],
        ),
        (
            r#"echo "a \"b\" \c" x\ y ''"#,
            &["echo", r#"a "b" \c"#, "x y", ""],
        ),
        ("a'b'\"c\"d", &["abcd"]),
    ];
    for (command, words) in cases {
        assert_eq!(split_command(command).unwrap(), *words, "{command}");
    }
    assert_eq!(split_command(" \t"), Err(CommandError::Empty));
    assert_eq!(
        split_command("echo 'x"),
        Err(CommandError::Unclosed("single"))
    );
    assert_eq!(
        split_command("echo \"x"),
        Err(CommandError::Unclosed("double"))
    );
    assert_eq!(
        split_command("echo \\"),
        Err(CommandError::TrailingBackslash)
    );
}

#[test]
fn words_are_quoted_only_when_they_need_it() {
    assert_eq!(
        join_command(&["sh", "-c", "echo it's", ""]),
        r"sh -c 'echo it'\''s' ''"
    );
}
