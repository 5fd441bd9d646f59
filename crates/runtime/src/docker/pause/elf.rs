//! A tiny static Linux executable that holds a network namespace and nothing else.
//!
//! Machine code, written out by hand for x86_64 and aarch64, wrapped in the smallest valid
//! ELF64 file: one header, one loadable segment, no sections, no libc. The program blocks
//! SIGTERM and SIGINT, waits for either with `rt_sigtimedwait` and exits 0. Blocking
//! matters: the kernel drops default-action signals sent to a namespace's PID 1, but a
//! blocked signal stays pending and is delivered to the waiting call, so `docker stop`
//! ends the container at once with exit code 0 instead of waiting for SIGKILL.

/// Where the single segment is mapped (64 KiB aligned, fine for every page size).
const LOAD_ADDRESS: u64 = 0x40_0000;
const SEGMENT_ALIGN: u64 = 0x1_0000;
const ELF_HEADER_SIZE: u16 = 64;
const PROGRAM_HEADER_SIZE: u16 = 56;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// The pause program for an architecture as `std::env::consts::ARCH` names it.
pub(crate) fn pause_executable(arch: &str) -> Option<Vec<u8>> {
    match arch {
        "x86_64" => Some(static_executable(EM_X86_64, &x86_64_code())),
        "aarch64" => Some(static_executable(EM_AARCH64, &aarch64_code())),
        _ => None,
    }
}

/// Signal set {SIGINT (2), SIGTERM (15)}: bit `n - 1` for signal `n`.
const WAITED_SIGNALS: u16 = (1 << (2 - 1)) | (1 << (15 - 1));

/// x86_64 (syscalls: rt_sigprocmask 14, rt_sigtimedwait 128, exit_group 231).
fn x86_64_code() -> Vec<u8> {
    let [set_lo, set_hi] = WAITED_SIGNALS.to_le_bytes();
    let mut code = vec![
        0x68, set_lo, set_hi, 0x00,
        0x00, // push WAITED_SIGNALS   (the set lives on the stack)
        0x31, 0xff, //                       xor edi, edi          (SIG_BLOCK)
        0x48, 0x89, 0xe6, //                 mov rsi, rsp          (&set)
        0x31, 0xd2, //                       xor edx, edx          (no old set)
        0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // mov r10d, 8         (sizeof sigset)
        0xb8, 0x0e, 0x00, 0x00, 0x00, //     mov eax, 14           (rt_sigprocmask)
        0x0f, 0x05, //                       syscall
    ];
    let wait = code.len();
    code.extend_from_slice(&[
        0x48, 0x89, 0xe7, //                 mov rdi, rsp          (&set)
        0x31, 0xf6, //                       xor esi, esi          (no siginfo)
        0x31, 0xd2, //                       xor edx, edx          (no timeout)
        0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // mov r10d, 8
        0xb8, 0x80, 0x00, 0x00, 0x00, //     mov eax, 128          (rt_sigtimedwait)
        0x0f, 0x05, //                       syscall
        0x85, 0xc0, //                       test eax, eax         (signal number or -errno)
    ]);
    // jle wait: rel8 counted from the end of the 2-byte jump.
    let back = wait as i64 - (code.len() as i64 + 2);
    code.extend_from_slice(&[0x7e, back as i8 as u8]);
    code.extend_from_slice(&[
        0x31, 0xff, //                       xor edi, edi          (status 0)
        0xb8, 0xe7, 0x00, 0x00, 0x00, //     mov eax, 231          (exit_group)
        0x0f, 0x05, //                       syscall
    ]);
    code
}

/// aarch64 (syscalls: rt_sigprocmask 135, rt_sigtimedwait 137, exit_group 94).
fn aarch64_code() -> Vec<u8> {
    const SVC_0: u32 = 0xd400_0001;
    const MOV_X0_SP: u32 = 0x9100_03e0; // add x0, sp, #0
    const MOV_X1_SP: u32 = 0x9100_03e1; // add x1, sp, #0
    const STR_X0_PRE_SP_MINUS_16: u32 = 0xf81f_0fe0; // str x0, [sp, #-16]!
    const CMP_X0_0: u32 = 0xf100_001f; // subs xzr, x0, #0
    let movz = |register: u32, value: u16| 0xd280_0000 | (u32::from(value) << 5) | register;
    let mut words = vec![
        movz(0, WAITED_SIGNALS),
        STR_X0_PRE_SP_MINUS_16, // the set lives on the stack
        movz(0, 0),             // SIG_BLOCK
        MOV_X1_SP,              // &set
        movz(2, 0),             // no old set
        movz(3, 8),             // sizeof sigset
        movz(8, 135),           // rt_sigprocmask
        SVC_0,
    ];
    let wait = words.len();
    words.extend_from_slice(&[
        MOV_X0_SP,    // &set
        movz(1, 0),   // no siginfo
        movz(2, 0),   // no timeout
        movz(3, 8),   // sizeof sigset
        movz(8, 137), // rt_sigtimedwait
        SVC_0,
        CMP_X0_0, // signal number or -errno
    ]);
    // b.le wait: a signed 19-bit word offset from this instruction, condition LE (0b1101).
    let back = (wait as i64 - words.len() as i64) as u32 & 0x7_ffff;
    words.push(0x5400_0000 | (back << 5) | 0b1101);
    words.extend_from_slice(&[
        movz(0, 0),  // status 0
        movz(8, 94), // exit_group
        SVC_0,
    ]);
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// An ELF64 little-endian executable whose only segment (read + execute) holds the
/// headers followed by `code`, entered at the code's first byte.
fn static_executable(machine: u16, code: &[u8]) -> Vec<u8> {
    let headers = u64::from(ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE);
    let file_size = headers + code.len() as u64;
    let mut elf = Vec::with_capacity(file_size as usize);
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI, padding.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    elf.extend_from_slice(&machine.to_le_bytes()); // e_machine
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&(LOAD_ADDRESS + headers).to_le_bytes()); // e_entry
    elf.extend_from_slice(&u64::from(ELF_HEADER_SIZE).to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no sections
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    elf.extend_from_slice(&ELF_HEADER_SIZE.to_le_bytes()); // e_ehsize
    elf.extend_from_slice(&PROGRAM_HEADER_SIZE.to_le_bytes()); // e_phentsize
    elf.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    elf.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
                                    // The program header: PT_LOAD, flags R+X, the whole file at LOAD_ADDRESS.
    elf.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // p_flags: PF_R | PF_X
    elf.extend_from_slice(&0u64.to_le_bytes()); // p_offset
    elf.extend_from_slice(&LOAD_ADDRESS.to_le_bytes()); // p_vaddr
    elf.extend_from_slice(&LOAD_ADDRESS.to_le_bytes()); // p_paddr
    elf.extend_from_slice(&file_size.to_le_bytes()); // p_filesz
    elf.extend_from_slice(&file_size.to_le_bytes()); // p_memsz
    elf.extend_from_slice(&SEGMENT_ALIGN.to_le_bytes()); // p_align
    elf.extend_from_slice(code);
    elf
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn headers_are_consistent() {
        for (arch, machine) in [("x86_64", EM_X86_64), ("aarch64", EM_AARCH64)] {
            let elf = pause_executable(arch).unwrap_or_default();
            assert_eq!(&elf[..4], b"\x7fELF");
            assert_eq!(u16::from_le_bytes([elf[18], elf[19]]), machine);
            let entry = u64::from_le_bytes(elf[24..32].try_into().unwrap_or_default());
            assert_eq!(entry, LOAD_ADDRESS + 120);
            let file_size = u64::from_le_bytes(elf[96..104].try_into().unwrap_or_default());
            assert_eq!(file_size, elf.len() as u64);
        }
        assert_eq!(pause_executable("riscv64"), None);
    }

    #[test]
    fn aarch64_branch_targets_the_wait_loop() {
        let code = aarch64_code();
        let word =
            |i: usize| u32::from_le_bytes(code[i * 4..i * 4 + 4].try_into().unwrap_or_default());
        assert_eq!(word(0), 0xd288_0040); // movz x0, #0x4002
        assert_eq!(word(6), 0xd280_10e8); // movz x8, #135
        assert_eq!(word(15), 0x54ff_ff2d); // b.le -28
        assert_eq!(word(17), 0xd280_0bc8); // movz x8, #94
    }

    /// Runs the program for `arch` (through `runner`, e.g. qemu, when given), sends it
    /// SIGTERM and expects a clean exit 0.
    fn exits_zero_on_sigterm(arch: &str, runner: Option<&str>) {
        let path =
            std::env::temp_dir().join(format!("flotilla-pause-{arch}-{}", std::process::id()));
        std::fs::write(&path, pause_executable(arch).unwrap_or_default()).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut command = match runner {
            Some(runner) => {
                let mut c = Command::new(runner);
                c.arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let mut child = command.stdin(Stdio::null()).spawn().expect("spawn");
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child.try_wait().expect("poll").is_none(),
            "pause exited early"
        );
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll") {
                break status;
            }
            assert!(Instant::now() < deadline, "pause ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = std::fs::remove_file(&path);
        assert_eq!(status.code(), Some(0), "{status:?}");
    }

    #[test]
    fn native_program_exits_zero_on_sigterm() {
        let arch = std::env::consts::ARCH;
        if pause_executable(arch).is_some() {
            exits_zero_on_sigterm(arch, None);
        }
    }

    #[test]
    fn aarch64_program_exits_zero_on_sigterm_under_qemu() {
        let qemu = "qemu-aarch64";
        let available = Command::new(qemu).arg("-version").output().is_ok();
        if std::env::consts::ARCH != "aarch64" && available {
            exits_zero_on_sigterm("aarch64", Some(qemu));
        }
    }
}
