# Helpers the Copy-VMGuestFile and Sync-VMGuestItem suites share (CopyVMGuestFile.Tests.ps1,
# Hardening.Tests.ps1, SyncVMGuestItem.Tests.ps1): dot-source it inside BeforeAll, after
# importing the module under test.

# The small tree both copy and sync tests move: files at three levels, an empty folder, text
# with and without a line end, non-ASCII text, every byte value.
function New-TestTree([string] $Root) {
    $null = New-Item -ItemType Directory -Force -Path "$Root/sub/deeper", "$Root/empty"
    Set-Content -Path "$Root/a.txt" -Value 'alpha' -NoNewline
    Set-Content -Path "$Root/b.log" -Value 'bravo'
    Set-Content -Path "$Root/sub/c.txt" -Value 'charlie ✓ é'
    [IO.File]::WriteAllBytes("$Root/sub/deeper/d.bin", [byte[]](0..255))
}

# One line per item below $Root, in path order: "rel/" for a folder, "rel HASH" for a file
# (SHA-256), "rel -> target" for a link (never followed), so two trees compare with Should -Be.
function Get-TreeState([string] $Root) {
    $base = (Resolve-Path $Root).Path
    foreach ($i in Get-ChildItem -LiteralPath $base -Recurse -Force -Attributes !ReparsePoint, ReparsePoint | Sort-Object FullName) {
        if ($i.FullName -notlike "$base/*") { continue }
        $rel = [IO.Path]::GetRelativePath($base, $i.FullName)
        if ($i.LinkType) { "$rel -> $($i.Target)" } elseif ($i.PSIsContainer) { "$rel/" } else { "$rel $((Get-FileHash -LiteralPath $i.FullName).Hash)" }
    }
}

function New-GeneratedFile([string] $Path, [int] $MiB) {
    $f = [IO.File]::Create($Path)
    try {
        $buf = [byte[]]::new(1MB); [Random]::new(7).NextBytes($buf)
        for ($i = 0; $i -lt $MiB; $i++) { $buf[0] = [byte]($i % 256); $f.Write($buf, 0, $buf.Length) }
    }
    finally { $f.Dispose() }
}

# Handles the agent has handed out since $After and not closed: guest-file-close must fail
# for every one of them (handles only grow, so the range is exact).
function Get-LeakedHandles($Session, [long] $After, [long] $Before) {
    foreach ($h in ($After + 1)..($Before - 1)) {
        $e = $null
        $null = Invoke-VMGuestRpc -Session $Session guest-file-close @{ handle = $h } -ErrorVariable e -ErrorAction SilentlyContinue -Confirm:$false
        if (-not $e) { $h }
    }
}

function Get-ProbeHandle($Session, [string] $Dir) {
    $h = Invoke-VMGuestRpc -Session $Session guest-file-open @{ path = "$Dir/probe"; mode = 'w' } -Confirm:$false
    $null = Invoke-VMGuestRpc -Session $Session guest-file-close @{ handle = $h } -Confirm:$false
    [long] $h
}

# One VM's counters from a relay's control socket (relay-stats), as an object.
function Get-RelayCounters([string] $Control, [string] $Vm) {
    $s = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
    try {
        $s.ReceiveTimeout = 30000
        $s.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($Control))
        $null = $s.Send([Text.Encoding]::ASCII.GetBytes('{"execute":"relay-stats"}'))
        $buffer = [byte[]]::new(64KB)
        $text = [Text.StringBuilder]::new()
        while (-not $text.ToString().Contains("`n")) {
            $n = $s.Receive($buffer)
            if ($n -eq 0) { throw "relay-stats: the relay closed the connection after '$text'" }
            $null = $text.Append([Text.Encoding]::UTF8.GetString($buffer, 0, $n))
        }
        ($text.ToString() | ConvertFrom-Json).return.vms | Where-Object name -EQ $Vm
    }
    finally { $s.Dispose() }
}
