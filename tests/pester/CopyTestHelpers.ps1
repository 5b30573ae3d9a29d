# Helpers the Copy-VMGuestFile suites share (CopyVMGuestFile.Tests.ps1, Hardening.Tests.ps1):
# dot-source it inside BeforeAll, after importing the module under test.

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
