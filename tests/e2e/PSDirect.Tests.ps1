# PowerShell Direct (issue 20) in a real QEMU VM (tests/e2e/E2eVm.psm1, TCG): the guest has no
# PowerShell of its own; Start-E2eVm -PowerShell shares the host's .NET and this pwsh read-only over
# virtio-9p, and the image's /usr/local/bin/pwsh runs it (invariant globalization: no ICU in the
# image). Our agent in the guest, reached through our relay by -VMName. Guest-side facts (pids,
# parents, host name, kernel) come from inside the guest through plain guest-exec, never from here.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'E2eVm.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    $script:Image = New-E2eImage
    $script:Vm = $null; $script:Relay = $null; $script:P = $null
    $script:SavedRelayDir = $env:QEMUGUEST_RELAY_DIR
    # pwsh reads its whole runtime over 9p and JIT-compiles under TCG: minutes on a loaded host,
    # where the boot alone has taken over 120 s.
    $script:Vm = Start-E2eVm -Image $Image -Agent Ours -PowerShell -MemoryMiB 1024 -Name 'e2e-psdirect' -BootTimeoutSec 300
    Write-Host "    booted $($Vm.Name) (qemu pid $($Vm.Pid)) to first sync in $($Vm.BootSeconds) s"
    $script:Relay = Start-E2eRelay -Vm $Vm
    $env:QEMUGUEST_RELAY_DIR = $Relay.Directory
    $script:S = New-VMGuestSession -VMName $Vm.Name -ConnectTimeoutSec 30

    function script:Get-GuestText([string] $Command) {
        $r = Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', $Command -Timeout 60
        $r.ExitCode | Should -Be 0 -Because "'$Command' failed: $($r.StdErr)"
        return $r.StdOut.Trim()
    }
}

AfterAll {
    if ($script:P) { $script:P | Remove-PSSession -ErrorAction SilentlyContinue }
    Get-VMGuestSession | Remove-VMGuestSession -Confirm:$false -ErrorAction SilentlyContinue
    $env:QEMUGUEST_RELAY_DIR = $SavedRelayDir
    try { $script:Relay | Stop-E2eRelay }
    finally {
        if ($script:Vm -and -not $script:Vm.Process.HasExited) { Write-Host "    console of $($Vm.Name):`n$(Get-E2eVmConsole $Vm)" }
        $script:Vm | Stop-E2eVm
    }
}

Describe 'PowerShell Direct into a real QEMU VM' {
    It 'opens a PSSession by -VMName through the relay, into a pwsh the guest''s agent started' {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $script:P = New-VMGuestPSSession -VMName $Vm.Name -PowerShellPath /usr/local/bin/pwsh -OpenTimeoutSec 900 -ErrorAction Stop
        Write-Host "    New-VMGuestPSSession in the VM took $([math]::Round($sw.Elapsed.TotalSeconds, 1)) s"
        $P.State | Should -Be 'Opened'
        $P.Transport | Should -Be 'QemuGuest'

        $r = Invoke-Command -Session $P {
            [pscustomobject]@{
                Pid      = $PID
                Parent   = [int](Get-Content "/proc/$PID/stat" -Raw).Split(' ')[3]
                HostName = (Get-Content /proc/sys/kernel/hostname -Raw).Trim()
                Kernel   = (Get-Content /proc/sys/kernel/osrelease -Raw).Trim()
                Version  = $PSVersionTable.PSVersion
                When     = [datetime]'2024-01-02T03:04:05Z'
            }
        }
        $r.PSObject.TypeNames | Should -Contain 'Deserialized.System.Management.Automation.PSCustomObject'
        $r.PSComputerName | Should -Be $Vm.Name
        $r.Pid | Should -BeOfType ([int])
        $r.When | Should -BeOfType ([datetime])
        $r.HostName | Should -BeExactly 'qg-e2e'
        $r.Kernel | Should -BeExactly ($Image.KernelPackage -replace '^linux-image-', '')
        "$($r.Version)" | Should -BeExactly "$($PSVersionTable.PSVersion)"
        # Its parent is the agent /init started in the guest (its pid from the guest's own file).
        $r.Parent | Should -Be ([int](Get-GuestText 'cat /run/agent.pid'))
        Get-GuestText "cat /proc/$($r.Pid)/comm" | Should -BeExactly 'dotnet'
        $script:GuestPid = $r.Pid
    }

    It 'passes -ArgumentList and $using: and keeps state between calls' {
        if (-not $script:P) { throw 'no session: the previous test failed to open one' }
        $n = 6
        Invoke-Command -Session $P { param($a) $global:QgE2e = $a * $using:n } -ArgumentList 7
        Invoke-Command -Session $P { $global:QgE2e } | Should -Be 42
    }

    It 'Remove-PSSession ends the guest''s pwsh' {
        if (-not $script:P) { throw 'no session: the first test failed to open one' }
        Remove-PSSession $P
        $script:P = $null
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while ((Get-GuestText "test -d /proc/$GuestPid && echo alive || echo gone") -eq 'alive' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 500 }
        Get-GuestText "test -d /proc/$GuestPid && echo alive || echo gone" | Should -BeExactly 'gone'
    }
}
