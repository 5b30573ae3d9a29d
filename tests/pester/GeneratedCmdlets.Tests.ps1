# The generated cmdlets (one per schema command) against a real agent (Debian's qemu-ga),
# running as root on THIS machine. Every command that changes the machine in a dangerous way
# (shutdown, suspend, clock, passwords, freeze, vCPUs, memory, fstrim, SSH keys) is BLOCKED in
# the agent with -b: the cmdlets are run with -WhatIf (nothing may reach the agent: no error)
# and then for real (the agent must answer "has been disabled" → AgentCommandNotFound), which
# proves both that -WhatIf sends nothing and that the real call path works — safely.

BeforeDiscovery {
    # The schema's commands (wire names), for the "one cmdlet per command" check.
    $root = if ($env:QEMUGUEST_REPO_ROOT) { $env:QEMUGUEST_REPO_ROOT } else { (Resolve-Path "$PSScriptRoot/../..").Path }
    $script:SchemaCommands = @(Get-ChildItem (Join-Path $root 'schema') -Filter 'qga*.json' |
            Where-Object Name -NotLike '*.powershell.json' |
            ForEach-Object { [regex]::Matches((Get-Content -Raw $_.FullName), "(?m)^\s*\{\s*'command':\s*'([^']+)'") } |
            ForEach-Object { $_.Groups[1].Value } | Sort-Object -Unique)
    # Commands the overlay marks 'no-cmdlet' (only an engine may send them: the bulk mode's
    # frames follow its reply) get none.
    $script:NoCmdlet = @([regex]::Matches((Get-Content -Raw (Join-Path $root 'schema/qga.powershell.json')),
            "(?m)^\{\s*'command':\s*'([^']+)',\s*'no-cmdlet':") | ForEach-Object { $_.Groups[1].Value })
    $script:SchemaCommands = @($script:SchemaCommands | Where-Object { $_ -notin $script:NoCmdlet })
    $script:Blocked = @(
        'guest-shutdown', 'guest-suspend-disk', 'guest-suspend-ram', 'guest-suspend-hybrid', 'guest-set-time',
        'guest-set-user-password', 'guest-fsfreeze-freeze', 'guest-fsfreeze-freeze-list', 'guest-set-vcpus',
        'guest-set-memory-blocks', 'guest-fstrim', 'guest-ssh-add-authorized-keys', 'guest-ssh-remove-authorized-keys'
    )
    # Cmdlet invocations of the blocked commands (parameters that pass validation).
    $script:DangerCases = @(
        @{ Command = 'guest-shutdown'; Cmdlet = 'Stop-VMGuest'; Params = @{ Mode = 'powerdown' } }
        @{ Command = 'guest-suspend-disk'; Cmdlet = 'Suspend-VMGuestToDisk'; Params = @{} }
        @{ Command = 'guest-suspend-ram'; Cmdlet = 'Suspend-VMGuestToRam'; Params = @{} }
        @{ Command = 'guest-suspend-hybrid'; Cmdlet = 'Suspend-VMGuestHybrid'; Params = @{} }
        @{ Command = 'guest-shutdown'; Cmdlet = 'Restart-VMGuest'; Params = @{} }
        @{ Command = 'guest-set-time'; Cmdlet = 'Set-VMGuestTime'; Params = @{ Time = [datetimeoffset]::UtcNow } }
        @{ Command = 'guest-set-user-password'; Cmdlet = 'Set-VMGuestUserPassword'; Params = @{ UserName = 'nobody-qg-test'; Password = (ConvertTo-SecureString 'x' -AsPlainText -Force) } }
        @{ Command = 'guest-fsfreeze-freeze'; Cmdlet = 'Suspend-VMGuestFileSystem'; Params = @{} }
        @{ Command = 'guest-fsfreeze-freeze-list'; Cmdlet = 'Suspend-VMGuestMountPoint'; Params = @{ MountPoint = '/nonexistent-qg' } }
        @{ Command = 'guest-set-vcpus'; Cmdlet = 'Set-VMGuestProcessor'; Params = @{ Processor = @(@{ LogicalId = 0; Online = $true }) } }
        @{ Command = 'guest-set-memory-blocks'; Cmdlet = 'Set-VMGuestMemoryBlock'; Params = @{ MemoryBlock = @(@{ PhysIndex = 0; Online = $true }) } }
        @{ Command = 'guest-fstrim'; Cmdlet = 'Optimize-VMGuestFileSystem'; Params = @{ MinimumBytes = 1GB } }
        @{ Command = 'guest-ssh-add-authorized-keys'; Cmdlet = 'Add-VMGuestSshAuthorizedKey'; Params = @{ UserName = 'nobody-qg-test'; PublicKey = 'ssh-ed25519 AAAA test' } }
        @{ Command = 'guest-ssh-remove-authorized-keys'; Cmdlet = 'Remove-VMGuestSshAuthorizedKey'; Params = @{ UserName = 'nobody-qg-test'; PublicKey = 'ssh-ed25519 AAAA test' } }
    )
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
    $blocked = 'guest-shutdown,guest-suspend-disk,guest-suspend-ram,guest-suspend-hybrid,guest-set-time,guest-set-user-password,guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,guest-set-vcpus,guest-set-memory-blocks,guest-fstrim,guest-ssh-add-authorized-keys,guest-ssh-remove-authorized-keys'
    $script:Agent, $script:S = Start-AgentSession -Kind Stock -Name 'pester-gen' -ExtraArguments @('-b', $blocked)
    $script:Module = Get-Module QemuGuest
    $script:AllGenerated = @(Get-Command -Module QemuGuest -CommandType Cmdlet | Where-Object {
            $_.ImplementingType.GetField('QgaCommandName', [Reflection.BindingFlags] 'Static, NonPublic')
        })
    # Variants ('fixed' in the overlay: Restart-VMGuest is guest-shutdown with mode reboot) are
    # further cmdlets of a command; each command has exactly one cmdlet that is not a variant.
    $script:Generated = @($AllGenerated | Where-Object {
            -not $_.ImplementingType.GetField('QgaFixedArguments', [Reflection.BindingFlags] 'Static, NonPublic')
        })
    function script:Wire([System.Management.Automation.CmdletInfo] $c) {
        $c.ImplementingType.GetField('QgaCommandName', [Reflection.BindingFlags] 'Static, NonPublic').GetRawConstantValue()
    }
    function script:Invoke-Expecting([scriptblock] $Script) {
        # Runs $Script with non-terminating errors collected, returning output and errors apart.
        $all = & { $ErrorActionPreference = 'Continue'; & $Script } 2>&1
        [pscustomobject]@{
            Output = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
            Errors = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
    }
}

AfterAll {
    Stop-AgentSession $Agent -AllSessions
}

Describe 'Cmdlet shape' {
    It 'has one generated cmdlet per schema command (<_>)' -ForEach $SchemaCommands {
        $wire = $_
        @($Generated | Where-Object { (Wire $_) -eq $wire }).Count | Should -Be 1
    }

    It 'has no cmdlet for a command marked no-cmdlet (<_>)' -ForEach $NoCmdlet {
        $wire = $_
        @($Generated | Where-Object { (Wire $_) -eq $wire }).Count | Should -Be 0
    }

    It 'generates exactly as many cmdlets as the schema has commands' {
        $Generated.Count | Should -Be $SchemaCommands.Count
    }

    It 'uses approved verbs only (Import-Module prints no verb warning)' {
        $approved = (Get-Verb).Verb
        foreach ($c in Get-Command -Module QemuGuest) { $approved | Should -Contain $c.Verb -Because $c.Name }
        $out = & (Join-Path $PSHOME 'pwsh') -NoProfile -NonInteractive -Command "Import-Module '$env:QEMUGUEST_MODULE_PATH' -WarningVariable w 3>`$null; `$w.Count"
        $out | Should -Be '0'
    }

    It 'supports ShouldProcess on every state-changing cmdlet' {
        $changing = 'Set', 'Stop', 'Restart', 'Suspend', 'Resume', 'Open', 'Close', 'Write', 'Remove', 'Add', 'New', 'Move', 'Start', 'Optimize'
        foreach ($c in $AllGenerated | Where-Object Verb -In $changing) {
            $c.Parameters.Keys | Should -Contain 'WhatIf' -Because $c.Name
        }
        foreach ($c in $Generated | Where-Object Verb -EQ 'Get') {
            $c.Parameters.Keys | Should -Not -Contain 'WhatIf' -Because $c.Name
        }
    }

    It 'declares an OutputType on every cmdlet that returns something' {
        foreach ($name in 'Get-VMGuestOSInfo', 'Open-VMGuestFile', 'Get-VMGuestNetworkInterface', 'Start-VMGuestExec') {
            (Get-Command $name).OutputType.Name | Should -Not -BeNullOrEmpty -Because $name
        }
        (Get-Command Get-VMGuestOSInfo).OutputType.Name | Should -Be 'QemuGuest.Protocol.Qga.GuestOSInfo'
        (Get-Command Open-VMGuestFile).OutputType.Name | Should -Be 'QemuGuest.Cmdlets.GuestFileOpenResult'
    }

    It 'types parameters: enums as ValidateSet of wire names, optional values nullable, optional bools switches' {
        $hash = (Get-Command Get-VMGuestFileHash).Parameters
        $set = $hash['Algorithm'].Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] }
        $set.ValidValues | Should -Contain 'sha256'
        $hash['Offset'].ParameterType | Should -Be ([Nullable[long]])
        (Get-Command Remove-VMGuestItem).Parameters['Recurse'].ParameterType | Should -Be ([switch])
        (Get-Command Get-VMGuestExecStatus).Parameters['ProcessId'].Aliases | Should -Contain 'Pid'
        (Get-Command Get-VMGuestExecStatus).Parameters['ProcessId'].ParameterType | Should -Be ([long])
    }

    It 'takes every argument from the pipeline by property name' {
        foreach ($c in $AllGenerated) {
            foreach ($p in $c.Parameters.Values | Where-Object { $_.Name -notin 'Session', 'VMName', 'ThrottleLimit', 'TimeoutSec', 'WhatIf', 'Confirm', 'Detailed' -and $_.Name -notin [System.Management.Automation.PSCmdlet]::CommonParameters }) {
                @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.ValueFromPipelineByPropertyName }).Count |
                    Should -BeGreaterThan 0 -Because "$($c.Name) -$($p.Name)"
            }
        }
    }
}

Describe 'Read-only cmdlets against qemu-ga' {
    It 'Test-VMGuestAgent answers $true as a plain [bool], so if (Test-VMGuestAgent ...) works' {
        $r = Invoke-Expecting { Test-VMGuestAgent -Session $S }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output.Count | Should -Be 1
        $r.Output[0] | Should -BeOfType [bool]
        $r.Output[0] | Should -BeTrue
        $(if (Test-VMGuestAgent -Session $S) { 'yes' } else { 'no' }) | Should -Be 'yes'
        (Test-VMGuestAgent -Session $S | Out-String).Trim() | Should -Be 'True'
    }

    It 'Test-VMGuestAgent answers $false, without an error, for a VM it cannot reach; -Verbose says why' {
        $r = Invoke-Expecting { Test-VMGuestAgent -VMName 'no-such-vm-qg' -Verbose 4>&1 }
        $r.Errors | Should -BeNullOrEmpty
        $answer = @($r.Output | Where-Object { $_ -is [bool] })
        $answer.Count | Should -Be 1
        $answer[0] | Should -BeFalse
        # -Verbose also traces connecting and each call (TracingChannel): the reason is one of the lines.
        $why = @(($r.Output | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }).Message)
        @($why | Where-Object { $_ -like 'no-such-vm-qg: VMNotFound: *' }).Count | Should -Be 1 -Because ($why -join ' | ')
        $(if (Test-VMGuestAgent -VMName 'no-such-vm-qg') { 'yes' } else { 'no' }) | Should -Be 'no'
    }

    It 'Test-VMGuestAgent answers once per target, in order of the targets that answer' {
        $answers = @('pester-gen', 'no-such-vm-qg' | Test-VMGuestAgent)
        $answers.Count | Should -Be 2
        $answers | Should -Contain $true
        $answers | Should -Contain $false
    }

    It 'Test-VMGuestAgent answers $false for a session whose agent is gone' {
        $gone, $g = Start-AgentSession -Kind Stock -Name 'pester-gone'
        try {
            Test-VMGuestAgent -Session $g | Should -BeTrue
            $gone | Stop-LocalAgent
            $r = Invoke-Expecting { Test-VMGuestAgent -Session $g -TimeoutSec 3 }
            $r.Errors | Should -BeNullOrEmpty
            $r.Output | Should -Be @($false)
        }
        finally { Stop-AgentSession $gone $g }
    }

    It 'Test-VMGuestAgent -Detailed gives an object with VMName, Succeeded, ResponseTime and Error' {
        $ok = Test-VMGuestAgent -Session $S -Detailed
        $ok.PSObject.TypeNames[0] | Should -Be 'QemuGuest.Cmdlets.GuestPingTestResult'
        $ok.VMName | Should -Be 'pester-gen'
        $ok.Succeeded | Should -BeTrue
        $ok.ResponseTime | Should -BeOfType [timespan]
        $ok.Error | Should -BeNullOrEmpty
        $bad = Test-VMGuestAgent -VMName 'no-such-vm-qg' -Detailed
        $bad.Succeeded | Should -BeFalse
        $bad.Error.FullyQualifiedErrorId | Should -Match '^VMNotFound'
    }

    It 'Sync-VMGuestChannel and Sync-VMGuestAgent echo the id as .Id' {
        (Sync-VMGuestChannel -Session $S 4242).Id | Should -Be 4242
        $r = Sync-VMGuestAgent -Session $S -Id 77
        $r.Id | Should -Be 77
        $r.PSObject.TypeNames[0] | Should -Be 'QemuGuest.Cmdlets.GuestSyncResult'
    }

    It 'Get-VMGuestAgent lists the commands, with VMName' {
        $info = Get-VMGuestAgent -Session $S
        $info.GetType().FullName | Should -Be 'QemuGuest.Protocol.Qga.GuestAgentInfo'
        $info.Version | Should -Match '^\d+\.\d+'
        $info.SupportedCommands.Name | Should -Contain 'guest-ping'
        ($info.SupportedCommands | Where-Object Name -EQ 'guest-shutdown').Enabled | Should -BeFalse
        $info.VMName | Should -Be 'pester-gen'
    }

    It 'Get-VMGuestTime returns the guest clock as a local DateTime in .Time' {
        $t = (Get-VMGuestTime -Session $S).Time
        $t | Should -BeOfType [datetime]
        $t.Kind | Should -Be 'Local'
        [math]::Abs(((Get-Date) - $t).TotalSeconds) | Should -BeLessThan 60
    }

    It 'Get-VMGuestUser shows LoginTime as a DateTime (when anyone is logged in)' {
        $r = Invoke-Expecting { Get-VMGuestUser -Session $S }
        foreach ($u in $r.Output) {
            $u.LoginTime | Should -BeOfType [datetime]
            $u.LoginTime | Should -BeLessOrEqual (Get-Date).AddMinutes(1)
        }
        # Nobody may be logged in here: the shadowing the cmdlet applies, on a wire-shaped object.
        $support = [QemuGuest.Cmdlets.Infrastructure.GeneratedCmdletSupport]
        $support::WithTime([pscustomobject]@{ LoginTime = 1500000000.5 }, 'LoginTime', $true).LoginTime.ToUniversalTime() |
            Should -Be ([datetime]::new(2017, 7, 14, 2, 40, 0, 500, [DateTimeKind]::Utc))
        $support::WithTime([pscustomobject]@{ Mtime = [long] 1500000000000000000 }, 'Mtime', $false).Mtime.ToUniversalTime() |
            Should -Be ([datetime]::new(2017, 7, 14, 2, 40, 0, [DateTimeKind]::Utc))
        # A hostile guest's out-of-range value becomes null, not an exception.
        $support::WithTime([pscustomobject]@{ LoginTime = 1e300 }, 'LoginTime', $true).LoginTime | Should -BeNullOrEmpty
    }

    It 'Get-VMGuestHostName returns this host''s name' {
        (Get-VMGuestHostName -Session $S).HostName | Should -Be ([System.Net.Dns]::GetHostName())
    }

    It 'Get-VMGuestTimeZone returns an offset' {
        (Get-VMGuestTimeZone -Session $S).Offset | Should -BeOfType [long]
    }

    It 'Get-VMGuestOSInfo returns this kernel and formats as a table and a list' {
        $os = Get-VMGuestOSInfo -Session $S
        $os.KernelRelease | Should -Be (uname -r)
        ($os | Format-Table | Out-String) | Should -BeLike "*$($os.KernelRelease)*"
        ($os | Format-List | Out-String) | Should -BeLike '*PrettyName*'
    }

    It 'Get-VMGuestNetworkInterface lists lo with 127.0.0.1 (table shows ip/prefix)' {
        $ifs = @(Get-VMGuestNetworkInterface -Session $S)
        $lo = $ifs | Where-Object Name -EQ 'lo'
        $lo.IpAddresses.IpAddress | Should -Contain '127.0.0.1'
        ($lo | Format-Table | Out-String) | Should -BeLike '*127.0.0.1/8*'
    }

    It 'Get-VMGuestFileSystem lists the root filesystem' {
        $fs = @(Get-VMGuestFileSystem -Session $S)
        $fs.Mountpoint | Should -Contain '/'
        ($fs | Format-Table | Out-String) | Should -BeLike '*Mountpoint*'
    }

    It 'Get-VMGuestFileSystemFreezeStatus says thawed as .Status' {
        (Get-VMGuestFileSystemFreezeStatus -Session $S).Status | Should -Be 'thawed'
    }

    It '<_> returns records or a documented agent error' -ForEach @(
        'Get-VMGuestDisk', 'Get-VMGuestDiskStatistic', 'Get-VMGuestProcessor', 'Get-VMGuestMemoryBlock',
        'Get-VMGuestMemoryBlockInfo', 'Get-VMGuestProcessorStatistic', 'Get-VMGuestUser', 'Get-VMGuestNetworkRoute', 'Get-VMGuestWindowsRoute',
        'Get-VMGuestDevice', 'Get-VMGuestLoadAverage'
    ) {
        # What this host offers depends on its hardware/containers and on qemu-ga's version:
        # each either returns typed records or fails with one of the documented ErrorIds.
        $r = Invoke-Expecting ([scriptblock]::Create("$_ -Session `$S"))
        if ($r.Errors) {
            $r.Errors[0].FullyQualifiedErrorId | Should -Match '^(AgentCommandNotFound|AgentGenericError),'
        }
        else {
            foreach ($o in $r.Output) { $o.GetType().Namespace | Should -Be 'QemuGuest.Protocol.Qga' }
        }
    }

    It 'Get-VMGuestProcessor matches this machine''s processor count' {
        $cpus = @(Get-VMGuestProcessor -Session $S)
        $cpus.Count | Should -Be ([Environment]::ProcessorCount)
        ($cpus | Format-Table | Out-String) | Should -BeLike '*LogicalId*'
    }

    It 'Get-VMGuestSshAuthorizedKey reads a user''s keys or reports the agent error' {
        $r = Invoke-Expecting { Get-VMGuestSshAuthorizedKey -Session $S -UserName root }
        if ($r.Errors) { $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'AgentGenericError,*' }
        # One string per key (the reply's keys list, unwrapped), each with the VMName.
        foreach ($k in $r.Output) { $k | Should -BeOfType [string]; $k.VMName | Should -Be 'pester-gen' }
    }
}

Describe 'Files through handles, piped by property name' {
    It 'opens, writes, flushes, seeks, reads and closes a file' {
        $path = Join-Path $Agent.Directory 'gen.txt'
        $h = Open-VMGuestFile -Session $S $path -Mode 'w+' -Confirm:$false
        $h.PSObject.TypeNames[0] | Should -Be 'QemuGuest.Cmdlets.GuestFileOpenResult'
        $h.Handle | Should -BeGreaterOrEqual 1000
        $w = $h | Write-VMGuestFile -Base64Data ([Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes('hello qemu'))) -Confirm:$false
        $w.Count | Should -Be 10
        $h | Sync-VMGuestFile -Confirm:$false
        $pos = $h | Set-VMGuestFilePosition -Offset 6 -Origin set -Confirm:$false
        $pos.Position | Should -Be 6
        $pos = Set-VMGuestFilePosition -Session $S $h.Handle 0 0 -Confirm:$false
        $pos.Position | Should -Be 0
        $r = $h | Read-VMGuestFile -Count 5
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($r.BufB64)) | Should -Be 'hello'
        $h | Close-VMGuestFile -Confirm:$false
        [IO.File]::ReadAllText($path) | Should -Be 'hello qemu'
    }

    It 'Open-VMGuestFile -WhatIf creates nothing' {
        $path = Join-Path $Agent.Directory 'whatif.txt'
        Open-VMGuestFile -Session $S $path -Mode w -WhatIf
        Test-Path $path | Should -BeFalse
    }

    It 'rejects a bad -Origin with InvalidArgument, per pipeline item' {
        $r = Invoke-Expecting { Set-VMGuestFilePosition -Session $S -Handle 1 -Offset 0 -Origin 'middle' -Confirm:$false }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument,*'
        $r.Errors[0].Exception.Message | Should -BeLike '*-Origin*'
    }

    It 'completes and checks -Mode of Stop-VMGuest and Open-VMGuestFile at binding (<Line>)' -ForEach @(
        @{ Line = 'Stop-VMGuest -Mode '; Expected = 'powerdown', 'halt', 'reboot' }
        @{ Line = 'Open-VMGuestFile -Path /x -Mode '; Expected = 'r', 'w+', 'a+b' }
    ) {
        $completions = (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches.CompletionText
        foreach ($e in $Expected) { $completions | Should -Contain $e }
    }

    It 'refuses Stop-VMGuest -Mode banana at binding; nothing is sent' {
        { Stop-VMGuest -Session $S -Mode banana -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
        { Open-VMGuestFile -Session $S /tmp/x -Mode banana -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }

    It 'takes times as DateTimeOffset: -Time of Set-VMGuestTime, -LastWriteTime of Set-VMGuestItemAttribute' {
        (Get-Command Set-VMGuestTime).Parameters['Time'].ParameterType | Should -Be ([Nullable[datetimeoffset]])
        (Get-Command Set-VMGuestItemAttribute).Parameters['LastWriteTime'].ParameterType | Should -Be ([Nullable[datetimeoffset]])
        # Beyond the wire's 64-bit nanoseconds (years 1678-2262): a named error before sending.
        $r = Invoke-Expecting { Set-VMGuestTime -Session $S -Time ([datetimeoffset]::MaxValue) -Confirm:$false }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument,*'
        $r.Errors[0].Exception.Message | Should -BeLike '*9999-12-31*-Time*'
    }

    It 'Restart-VMGuest is guest-shutdown with mode reboot (no -Mode parameter)' {
        $c = Get-Command Restart-VMGuest
        (Wire $c) | Should -Be 'guest-shutdown'
        $c.ImplementingType.GetField('QgaFixedArguments', [Reflection.BindingFlags] 'Static, NonPublic').GetRawConstantValue() | Should -Be 'mode=reboot'
        $c.Parameters.Keys | Should -Not -Contain 'Mode'
        (Get-Help Restart-VMGuest).Synopsis | Should -Be 'Asks the guest operating system to restart.'
    }

    It 'rejects a value outside ValidateSet before anything is sent' {
        { Get-VMGuestFileHash -Session $S -Path / -Algorithm 'crc7' -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }

    It 'reports an agent failure as AgentGenericError with the target, categorised by what the agent said' {
        $r = Invoke-Expecting { Open-VMGuestFile -Session $S '/nonexistent/dir/x' -Confirm:$false }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'AgentGenericError,*'
        $r.Errors[0].TargetObject | Should -Be 'pester-gen'
        # qemu-ga: "failed to open file '/nonexistent/dir/x' (mode: 'r'): No such file or directory".
        $r.Errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $r.Errors[0].ErrorDetails.RecommendedAction | Should -Not -BeNullOrEmpty
    }

    It 'maps agent texts to categories in the one error table (<Text>)' -ForEach @(
        @{ Text = "failed to open file '/root/x' (mode: 'r'): Permission denied"; Category = 'PermissionDenied' }
        @{ Text = 'Access is denied.'; Category = 'PermissionDenied' }
        @{ Text = "failed to stat '/x': No such file or directory"; Category = 'ObjectNotFound' }
        @{ Text = 'The system cannot find the file specified.'; Category = 'ObjectNotFound' }
        @{ Text = 'hwclock timed out'; Category = 'OperationTimeout' }
        @{ Text = "Parameter 'mode' expects a string"; Category = 'InvalidOperation' }
    ) {
        $protocol = [System.Runtime.Loader.AssemblyLoadContext]::All.Assemblies | Where-Object { $_.GetName().Name -eq 'QemuGuest.Protocol' } | Select-Object -First 1
        $ex = [Activator]::CreateInstance($protocol.GetType('QemuGuest.Protocol.QgaGenericErrorException'), @('guest-x', $Text))
        $record = [QemuGuest.Cmdlets.Infrastructure.ErrorTable]::ToErrorRecord($ex, 'vm1')
        $record.FullyQualifiedErrorId | Should -Be 'AgentGenericError'
        $record.CategoryInfo.Category | Should -Be $Category
        $record.TargetObject | Should -Be 'vm1'
    }
}

Describe 'Programs: Start-VMGuestExec | Get-VMGuestExecStatus' {
    It 'pipes the pid by property name and returns the captured output' {
        $p = Start-VMGuestExec -Session $S /bin/echo -ArgumentList 'hi', 'there' -CaptureOutput true -Confirm:$false
        $p.Pid | Should -BeGreaterThan 0
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        do {
            $st = $p | Get-VMGuestExecStatus
            if (-not $st.Exited) { Start-Sleep -Milliseconds 100 }
        } until ($st.Exited -or [DateTime]::UtcNow -gt $deadline)
        $st.Exited | Should -BeTrue
        $st.Exitcode | Should -Be 0
        [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($st.OutData)) | Should -Be "hi there`n"
    }

    It 'accepts -CaptureOutput as a bool or a mode name, and rejects others before sending' {
        (Start-VMGuestExec -Session $S /bin/true -CaptureOutput $false -Confirm:$false).Pid | Should -BeGreaterThan 0
        # Stock qemu-ga before 8.0 only knows the bool form: a mode name reaches it and is refused.
        $r = Invoke-Expecting { Start-VMGuestExec -Session $S /bin/true -CaptureOutput separated -Confirm:$false }
        if ($r.Errors) { $r.Errors[0].Exception.Message | Should -BeLike '*capture-output*' }
        else { $r.Output[0].Pid | Should -BeGreaterThan 0 }
        { Start-VMGuestExec -Session $S /bin/true -CaptureOutput 'sometimes' -Confirm:$false -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }

    It 'Start-VMGuestExec -WhatIf starts nothing' {
        $marker = Join-Path $Agent.Directory 'exec-marker'
        Start-VMGuestExec -Session $S /usr/bin/touch -ArgumentList $marker -WhatIf
        Start-Sleep -Milliseconds 300
        Test-Path $marker | Should -BeFalse
    }

    It 'formats exec status with decoded output' {
        $p = Start-VMGuestExec -Session $S /bin/echo -ArgumentList 'formatted' -CaptureOutput true -Confirm:$false
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        do { $st = Get-VMGuestExecStatus -Session $S -ProcessId $p.Pid; Start-Sleep -Milliseconds 100 } until ($st.Exited -or [DateTime]::UtcNow -gt $deadline)
        ($st | Format-Table | Out-String) | Should -BeLike '*formatted*'
    }
}

Describe 'State-changing commands (blocked in the agent)' {
    It '<Cmdlet> -WhatIf sends nothing' -ForEach $DangerCases {
        $params = $Params
        $r = Invoke-Expecting { & $Cmdlet -Session $S @params -WhatIf }
        $r.Errors | Should -BeNullOrEmpty
        $r.Output | Should -BeNullOrEmpty
    }

    It '<Cmdlet> for real reaches the agent, which refuses it (AgentCommandNotFound)' -ForEach $DangerCases {
        $params = $Params
        $r = Invoke-Expecting { & $Cmdlet -Session $S @params -Confirm:$false }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike "AgentCommandNotFound,*"
        $r.Errors[0].Exception.Message | Should -BeLike "*$Command*disabled*"
    }

    It 'Resume-VMGuestFileSystem on a thawed guest thaws nothing (.Count 0)' {
        (Resume-VMGuestFileSystem -Session $S -Confirm:$false).Count | Should -Be 0
    }

    It 'Set-VMGuestProcessor takes records from Get-VMGuestProcessor (-WhatIf)' {
        $cpus = @(Get-VMGuestProcessor -Session $S)
        $r = Invoke-Expecting { Set-VMGuestProcessor -Session $S -Processor $cpus -WhatIf }
        $r.Errors | Should -BeNullOrEmpty
    }

    It 'Set-VMGuestProcessor rejects an element without LogicalId as InvalidArgument' {
        $r = Invoke-Expecting { Set-VMGuestProcessor -Session $S -Processor @{ Online = $true } -Confirm:$false }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidArgument,*'
    }
}

Describe 'Set-VMGuestUserPassword: the password the guest gets is the one typed' {
    # A second qemu-ga whose PATH holds only a recording chpasswd: qemu-ga decodes the base64 it
    # receives and pipes "user:password" into the chpasswd it finds in PATH, so the recorded
    # input is exactly what a real guest's chpasswd would set (and no real account changes).
    BeforeAll {
        $script:Shim = Join-Path ([IO.Path]::GetTempPath()) ("qg-chpasswd-" + [guid]::NewGuid().ToString('n').Substring(0, 12))
        $null = New-Item -ItemType Directory -Path $Shim
        $script:Recorded = Join-Path $Shim 'input'
        $script:RecordedArgs = Join-Path $Shim 'args'
        Set-Content -Path (Join-Path $Shim 'chpasswd') -NoNewline -Value "#!/bin/sh`n/bin/cat > '$Recorded'`necho `"`$*`" > '$RecordedArgs'`n"
        & /bin/chmod 755 (Join-Path $Shim 'chpasswd')
        $path = $env:PATH
        try {
            $env:PATH = $Shim
            $script:PwAgent, $script:P = Start-AgentSession -Kind Stock -Name 'pester-passwd'
        }
        finally { $env:PATH = $path }
        function script:Read-Recorded {
            # The bytes chpasswd received, as UTF-8 text, and its arguments.
            [pscustomobject]@{
                Input = [Text.Encoding]::UTF8.GetString([IO.File]::ReadAllBytes($Recorded))
                Args  = (Get-Content -Raw $RecordedArgs).Trim()
            }
        }
    }
    AfterAll {
        Stop-AgentSession $PwAgent $P
        Remove-Item -Recurse -Force $Shim -ErrorAction SilentlyContinue
    }
    BeforeEach { Remove-Item $Recorded, $RecordedArgs -ErrorAction SilentlyContinue }

    It 'sends the typed SecureString, UTF-8 then base64 encoded by the cmdlet' {
        $pw = ConvertTo-SecureString 'Passw0rd' -AsPlainText -Force
        Set-VMGuestUserPassword -Session $P -UserName qg-user -Password $pw -Confirm:$false -ErrorAction Stop
        $r = Read-Recorded
        $r.Input | Should -BeExactly "qg-user:Passw0rd`n"
        $r.Args | Should -BeExactly ''
    }

    It 'takes the user and password from -Credential (non-ASCII survives as UTF-8)' {
        $cred = [pscredential]::new('qg-cred', (ConvertTo-SecureString 'héllo wörld' -AsPlainText -Force))
        Set-VMGuestUserPassword -Session $P -Credential $cred -Confirm:$false -ErrorAction Stop
        (Read-Recorded).Input | Should -BeExactly "qg-cred:héllo wörld`n"
    }

    It 'takes -Credential with -VMName too' {
        $cred = [pscredential]::new('qg-vm', (ConvertTo-SecureString 'by-name' -AsPlainText -Force))
        Set-VMGuestUserPassword -VMName 'pester-passwd' -Credential $cred -Confirm:$false -ErrorAction Stop
        (Read-Recorded).Input | Should -BeExactly "qg-vm:by-name`n"
    }

    It 'sends -Crypted as crypted: true (chpasswd -e), and false without it' {
        $hash = ConvertTo-SecureString '$6$salt$abc' -AsPlainText -Force
        Set-VMGuestUserPassword -Session $P -UserName qg-user -Password $hash -Crypted -Confirm:$false -ErrorAction Stop
        $r = Read-Recorded
        $r.Input | Should -BeExactly "qg-user:`$6`$salt`$abc`n"
        $r.Args | Should -BeExactly '-e'
    }

    It 'refuses a plain string for -Password at binding; nothing reaches the guest' {
        { Set-VMGuestUserPassword -Session $P -UserName qg-user -Password 'UGFzc3cwcmQ=' -Confirm:$false -ErrorAction Stop } |
            Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,*'
        Test-Path $Recorded | Should -BeFalse
    }

    It 'has no parameter that takes base64 text; -Password is a mandatory SecureString' {
        $c = Get-Command Set-VMGuestUserPassword
        $c.Parameters.Keys | Should -Not -Contain 'PasswordBase64'
        $c.Parameters['Password'].ParameterType | Should -Be ([securestring])
        $c.Parameters['Password'].Aliases | Should -BeNullOrEmpty
        foreach ($set in 'Session', 'VMName') { $c.Parameters['Password'].ParameterSets[$set].IsMandatory | Should -BeTrue }
        $c.Parameters['Credential'].ParameterType | Should -Be ([pscredential])
        $c.Parameters['Crypted'].ParameterType | Should -Be ([switch])
    }
}

Describe 'QemuGuest extension cmdlets against the stock agent' {
    It '<Line> reaches the agent, which does not know the command' -ForEach @(
        @{ Line = 'Get-VMGuestAgentCapability -Session $S' }
        @{ Line = 'Get-VMGuestItem -Session $S /' }
        @{ Line = 'Get-VMGuestDirectoryPage -Session $S / -PageSize 5' }
        @{ Line = 'Get-VMGuestFileHash -Session $S /etc/hostname -Algorithm sha256' }
        @{ Line = 'Read-VMGuestExecStream -Session $S 1' }
        @{ Line = 'New-VMGuestDirectory -Session $S /nonexistent-qg -Confirm:$false' }
        @{ Line = 'Move-VMGuestItem -Session $S /nonexistent-qg-a /nonexistent-qg-b -Force -Confirm:$false' }
        @{ Line = 'Remove-VMGuestItem -Session $S /nonexistent-qg -Recurse -IgnoreMissing -Confirm:$false' }
        @{ Line = 'Set-VMGuestItemAttribute -Session $S /nonexistent-qg -Mode 420 -Confirm:$false' }
        @{ Line = 'Start-VMGuestExecStream -Session $S /bin/true -Confirm:$false' }
        @{ Line = 'Stop-VMGuestExec -Session $S 1 -Confirm:$false' }
    ) {
        $r = Invoke-Expecting ([scriptblock]::Create($Line))
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'AgentCommandNotFound,*'
        $r.Errors[0].CategoryInfo.Category | Should -Be 'NotImplemented'
    }
}

Describe 'Targets, parallel use' {
    It 'runs through -VMName when a session of that name is open' {
        (Get-VMGuestHostName -VMName 'pester-gen').HostName | Should -Not -BeNullOrEmpty
    }

    It 'reports an unknown VM name as VMNotFound' {
        $r = Invoke-Expecting { Get-VMGuestHostName -VMName 'no-such-vm-qg' }
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'VMNotFound,*'
    }

    It 'binds sessions from the pipeline' {
        (Get-VMGuestSession -Name 'pester-gen' | Get-VMGuestOSInfo).KernelRelease | Should -Be (uname -r)
    }

    It 'works inside ForEach-Object -Parallel with a shared session' {
        $results = 1..6 | ForEach-Object -Parallel { Get-VMGuestTime -Session $using:S } -ThrottleLimit 6
        @($results).Count | Should -Be 6
        $results.Time | ForEach-Object { $_ | Should -BeGreaterThan ([datetime] '2020-01-01') }
    }

    It 'works inside Start-ThreadJob' {
        if (-not (Get-Command Start-ThreadJob -ErrorAction SilentlyContinue)) {
            Set-ItResult -Skipped -Because 'Start-ThreadJob is not available in this PowerShell'
            return
        }
        $s = $S
        $job = Start-ThreadJob { Import-Module QemuGuest; Get-VMGuestOSInfo -Session $using:s }
        $os = $job | Wait-Job -Timeout 60 | Receive-Job
        $job | Remove-Job -Force
        $os.KernelRelease | Should -Be (uname -r)
    }
}
